# Test data is generated, not committed: deterministic weights, PyTorch reference activations and
# images of every kind, made by the scripts in tools/fixtures with Debian's python3 + python3-torch.
set(FMVIZ_PYTHON "/usr/bin/python3" CACHE FILEPATH "Python with torch, torchvision and PIL, for the test fixtures")

add_test(NAME fixtures_images
  COMMAND ${FMVIZ_PYTHON} ${PROJECT_SOURCE_DIR}/tools/fixtures/make_images.py --out ${FMVIZ_TEST_DATA}/images)
set_tests_properties(fixtures_images PROPERTIES FIXTURES_SETUP fmviz_data)

add_test(NAME fixtures_reference
  COMMAND ${FMVIZ_PYTHON} ${PROJECT_SOURCE_DIR}/tools/fixtures/make_reference.py --out ${FMVIZ_TEST_DATA}/reference)
set_tests_properties(fixtures_reference PROPERTIES FIXTURES_SETUP fmviz_data)
