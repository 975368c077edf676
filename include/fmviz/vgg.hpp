// The one header a consumer includes: VGG networks, weights, activations, images and outputs.
#pragma once

#include "error.hpp"
#include "image.hpp"
#include "image8.hpp"
#include "network.hpp"
#include "npy.hpp"
#include "png.hpp"
#include "recorder.hpp"
#include "tensor.hpp"
#include "version.hpp"
#include "vgg_config.hpp"
#include "vgg_loader.hpp"
#include "weights.hpp"
