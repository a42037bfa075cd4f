#pragma once
/// \file
/// Descriptive statistics of seed-pooled run metrics: mean and sample standard deviation,
/// median and mean, each over the finite values only (NaN marks a value a run does not have).

#include <cstddef>
#include <vector>

namespace bnl::stats {

/// Mean and sample standard deviation (divides by n - 1; NaN for n < 2) of the finite values.
struct Pooled {
  std::size_t n = 0;  ///< number of finite values
  double mean = 0;    ///< their mean (NaN when n = 0)
  double sd = 0;      ///< sqrt(sum (x - mean)^2 / (n - 1)) (NaN when n < 2)
};

/// Pools the finite values of `xs` (a metric over seeds) into their mean and standard deviation.
Pooled pool(const std::vector<double>& xs);

/// Median of the finite values (NaN if none).
double median(std::vector<double> v);

/// Mean of the finite values among v[0..n) (NaN when there are none): the layer mean of one
/// row of an [n x L] series such as /ics/l2.
double finite_mean(const double* v, std::size_t n);

}  // namespace bnl::stats
