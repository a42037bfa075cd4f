// Errors become exit codes in one place (exit_code_for), with today's codes.
#include <gtest/gtest.h>

#include <CLI/Error.hpp>
#include <c10/util/Exception.h>

#include "bnlandscape/cli/exit_codes.h"
#include "bnlandscape/core/error.h"
#include "bnlandscape/train/config.h"

using namespace bnl;

TEST(ExitCodes, EveryErrorIsExitTwo) {
  EXPECT_EQ(cli::exit_code_for(ConfigError("--lr = -1: expected a finite learning rate > 0")), 2);
  EXPECT_EQ(cli::exit_code_for(train::ConfigError("same class")), 2);
  EXPECT_EQ(cli::exit_code_for(DataError("x")), 2);
  EXPECT_EQ(cli::exit_code_for(IoError("x")), 2);
  EXPECT_EQ(cli::exit_code_for(CLI::ValidationError("--format", "x not in {csv,json}")), 2);
  EXPECT_EQ(cli::exit_code_for(std::runtime_error("x")), 2);
  EXPECT_EQ(cli::kExitDiverged, 3);
}

TEST(ExitCodes, MessagesLeaveOutLibtorchsBacktrace) {
  try {
    TORCH_CHECK(false, "shape mismatch");
  } catch (const c10::Error& e) {
    EXPECT_EQ(cli::exit_code_for(e), 2);
    EXPECT_EQ(cli::error_message(e), e.what_without_backtrace());
  }
  EXPECT_EQ(cli::error_message(ConfigError("--bn = \"x\": expected none")), "--bn = \"x\": expected none");
}
