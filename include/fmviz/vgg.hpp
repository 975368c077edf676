// The header consumers have included since fmviz began: everything, as fmviz.hpp (which new code may include instead).
#pragma once

#include "fmviz.hpp"
