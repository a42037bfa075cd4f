#pragma once
/// \file
/// The special functions behind Student's t distribution: the regularized incomplete beta
/// function and the t cumulative distribution function built on it.

namespace bnl::stats {

/// Regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1 (continued
/// fraction evaluated with the modified Lentz method, Numerical Recipes 6.4); NaN outside that
/// domain.
double incomplete_beta(double a, double b, double x);

/// Cumulative distribution function of Student's t with `df` > 0 degrees of freedom:
/// P(T <= -|t|) = I_{df/(df+t^2)}(df/2, 1/2) / 2. NaN for NaN t or df <= 0.
double student_t_cdf(double t, double df);

}  // namespace bnl::stats
