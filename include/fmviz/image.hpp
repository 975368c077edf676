// Image input, file to network, all three steps: decoding (decode.hpp), resizing (resize.hpp) and the model's
// normalisation, with load_image doing all three (model_input.hpp). Include this, or only the step you need.
#pragma once

#include "decode.hpp"
#include "model_input.hpp"
#include "resize.hpp"
#include "rgb_image.hpp"
