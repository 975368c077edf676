// The whole job of the fmviz command as a library: run images through a network and render each one's feature
// map grids, overlays, filters, arrays and gallery page, in memory (Report::render) or into a folder
// (write_report), plus the lists of images to run (list_images, read_image_list), and a folder of channel
// visualisations (write_channel_visualizations).
#pragma once

#include "report/channel_visualizations.hpp"
#include "report/image_list.hpp"
#include "report/render.hpp"
#include "report/write.hpp"
