// Everything fmviz offers, in one include: each public header, in the order data flows through them.
#pragma once

#include "version.hpp"

#include "error.hpp"
#include "tensor.hpp"
#include "threads.hpp"

#include "layer_info.hpp"
#include "network.hpp"

#include "weights.hpp"
#include "vgg_config.hpp"
#include "vgg_loader.hpp"

#include "image8.hpp"
#include "rgb_image.hpp"
#include "decode.hpp"
#include "resize.hpp"
#include "model_input.hpp"
#include "image.hpp"

#include "stats.hpp"
#include "tap.hpp"
#include "recorder.hpp"

#include "imagenet_classes.hpp"
#include "classify.hpp"

#include "channels.hpp"
#include "colormap.hpp"
#include "grid.hpp"
#include "overlay.hpp"
#include "filters.hpp"
#include "mosaic.hpp"

#include "png.hpp"
#include "npy.hpp"

#include "explain/cam.hpp"
#include "explain/saliency.hpp"
#include "explain/feature_vis.hpp"
#include "gallery.hpp"

#include "report.hpp"
#include "atlas.hpp"
