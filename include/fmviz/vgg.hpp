// The one header a consumer includes: VGG networks, weights, activations, images and outputs.
#pragma once

#include "error.hpp"
#include "network.hpp"
#include "recorder.hpp"
#include "tensor.hpp"
#include "vgg_config.hpp"
#include "vgg_loader.hpp"
#include "weights.hpp"
