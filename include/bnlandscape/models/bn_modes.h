#pragma once
/// \file
/// The choices that define our batch normalisation (--bn-backward, --bn-eval, --bn-placement),
/// apart from the layers and models so that settings can name them without their headers.

namespace bnl::models {

/// Which backward formula the training-mode batch normalisation uses (--bn-backward).
enum class BnBackward {
  /// The exact gradient:
  /// dx = inv_std * (dxh - mean(dxh) - x_hat * mean(dxh * x_hat)), dxh = dy * gamma.
  Exact,
  /// The original study's BatchNorm1D backward, whose dvar term uses x_hat where the derivation
  /// needs (x - mu); its dx carries an extra factor inv_std = 1/sqrt(var + eps) on the
  /// x_hat * mean(dxh * x_hat) term. dgamma and dbeta are exact.
  Original,
};

/// Which statistics an eval-mode forward normalises with (--bn-eval).
enum class BnEvalStats {
  /// The running mean and running (unbiased) variance, as torch::nn::BatchNorm does.
  Running,
  /// The batch's own mean and biased variance, as in training, without touching the running
  /// statistics (what the original study did).
  Batch,
};

/// --bn-placement: normalise the dense head (original), the convolutions, or both.
enum class BnPlacement { Head, Conv, All };

}  // namespace bnl::models
