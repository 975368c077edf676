// Lets the tests build against Catch2 v2 (Debian) and v3.
#pragma once
#if FMVIZ_CATCH_V3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
