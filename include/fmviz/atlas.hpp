// Channel atlases at dataset scale: for every channel of chosen conv layers, the images of a dataset that excite it
// most (by the channel's maximum and by its mean) and where; made batch by batch in memory bounded by the atlas,
// sharded and merged exactly, kept as a table on disk.
#pragma once

#include "atlas/model.hpp"
#include "atlas/accumulate.hpp"
#include "atlas/run.hpp"
#include "atlas/table.hpp"
#include "atlas/site.hpp"
// The atlas's web pages (write_atlas_site) come in atlas/site.hpp.
