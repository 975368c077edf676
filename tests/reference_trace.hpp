// A trace of VGG16 built on PyTorch's own conv outputs (the reference fixture's f32/LAYER.npy), the other layers
// computed from them (ReLU and max-pool exactly). fmviz's forward agrees with PyTorch's to about 3e-6, enough to
// flip a max-pool's choice where two values of a window are that close: the gradient then legitimately goes to
// the other position. On the same activations, every gradient must agree.
#pragma once

#include <fmviz/fmviz.hpp>

#include <string>

namespace fmviz_test {

inline fmviz::ForwardTrace<float> pytorch_trace(const fmviz::Network<float>& net, const std::string& reference_dir,
                                                const std::string& input_npy) {
  fmviz::ForwardTrace<float> trace;
  trace.input = fmviz::read_npy<float>(reference_dir + "/" + input_npy);
  for (const auto& layer : net.layers()) {
    const fmviz::Tensor<float>& in = trace.outputs.empty() ? trace.input : trace.outputs.back();
    if (layer.info.kind == fmviz::LayerKind::conv2d)
      trace.outputs.push_back(fmviz::read_npy<float>(reference_dir + "/f32/" + layer.info.name + ".npy"));
    else
      trace.outputs.push_back(std::visit([&](const auto& op) { return op.forward(in); }, layer.op));
  }
  return trace;
}

}  // namespace fmviz_test
