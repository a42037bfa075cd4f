// CIFAR-10 binary and python-pickle batches: round trips, the shipped Python 2 layout, Python 3
// re-dumps, and hostile or broken pickles.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bnlandscape/data/cifar_reader.h"
#include "common/temp_dir.h"
#include "data/data_test_util.h"

namespace bnl::data {
namespace {

using testing::Bytes;
using testing::data_error;
using testing::read_file;
using testing::write_file;

using TempDir = bnl_test::TempDir;

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A string literal with its embedded NUL bytes, sized by the array.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// The same formulas as the Python generator below: pixel j of image i, and label i.
std::uint8_t pixel_value(std::size_t i, std::size_t j) {
  return static_cast<std::uint8_t>((i * 7 + j * 13) % 256);
}
std::uint8_t label_value(std::size_t i) { return static_cast<std::uint8_t>((i * 3) % 10); }

void expect_values(const ImageSet& set, std::size_t n, std::size_t first = 0) {
  ASSERT_EQ(set.n, static_cast<std::int64_t>(n));
  ASSERT_EQ(set.channels, 3);
  ASSERT_EQ(set.height, 32);
  ASSERT_EQ(set.width, 32);
  ASSERT_EQ(set.pixels.size(), n * 3072);
  ASSERT_EQ(set.labels.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(set.labels[i], label_value(first + i)) << i;
    for (std::size_t j = 0; j < 3072; ++j) {
      ASSERT_EQ(set.pixels[i * 3072 + j], pixel_value(first + i, j)) << i << " " << j;
    }
  }
}

Bytes cifar_binary(std::size_t n, std::size_t first = 0) {
  Bytes b;
  for (std::size_t i = first; i < first + n; ++i) {
    b.push_back(label_value(i));
    for (std::size_t j = 0; j < 3072; ++j) b.push_back(pixel_value(i, j));
  }
  return b;
}

// Writes pickle opcodes the way Python 2.7 cPickle (protocol 2) wrote the shipped
// cifar-10-batches-py files: str keys as SHORT_BINSTRING, the pixel data as one BINSTRING,
// labels appended 1000 at a time, and a BINPUT after every new container or string.
class Py2Pickle {
 public:
  std::string bytes;

  void op(char c) { bytes.push_back(c); }
  void raw(const std::string& s) { bytes += s; }
  void le32(std::uint32_t v) {
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>(v >> (8 * k)));
  }
  void put() {
    if (memo_ < 256) {
      op('q');
      bytes.push_back(static_cast<char>(memo_));
    } else {
      op('r');
      le32(memo_);
    }
    ++memo_;
  }
  void str(const std::string& s) {  // SHORT_BINSTRING or BINSTRING
    if (s.size() < 256) {
      op('U');
      bytes.push_back(static_cast<char>(s.size()));
    } else {
      op('T');
      le32(static_cast<std::uint32_t>(s.size()));
    }
    raw(s);
    put();
  }
  void integer(std::int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      bytes.push_back(static_cast<char>(v));
    } else if (v >= 0 && v < 65536) {
      op('M');
      bytes.push_back(static_cast<char>(v & 255));
      bytes.push_back(static_cast<char>(v >> 8));
    } else {
      op('J');
      le32(static_cast<std::uint32_t>(v));
    }
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    raw(module + "\n" + name + "\n");
    put();
  }
  // numpy.ndarray of uint8 with `shape`, pickled as numpy 1.x did under Python 2.
  void ndarray(const std::vector<std::int64_t>& shape, const std::string& data) {
    global("numpy.core.multiarray", "_reconstruct");
    global("numpy", "ndarray");
    integer(0);
    op('\x85');
    str("b");
    op('\x87');
    op('R');
    put();
    op('(');
    integer(1);
    op('(');
    for (const std::int64_t d : shape) integer(d);
    op('t');
    global("numpy", "dtype");
    str("u1");
    integer(0);
    integer(1);
    op('\x87');
    op('R');
    put();
    op('(');
    integer(3);
    str("|");
    raw("NNN");
    integer(-1);
    integer(-1);
    integer(0);
    op('t');
    op('b');
    op('\x89');
    str(data);
    op('t');
    op('b');
  }
  void int_list(const std::vector<std::int64_t>& values) {
    op(']');
    put();
    for (std::size_t k = 0; k < values.size(); k += 1000) {
      op('(');
      for (std::size_t j = k; j < values.size() && j < k + 1000; ++j) integer(values[j]);
      op('e');
    }
  }

 private:
  std::uint32_t memo_ = 1;
};

struct BatchSpec {
  std::size_t n = 3;
  std::size_t first = 0;
  std::vector<std::int64_t> shape;  // empty: (n, 3072)
  std::size_t data_bytes = 0;       // 0: n * 3072
  std::vector<std::int64_t> labels;  // empty: label_value(first + i)
  bool with_data = true;
  bool with_labels = true;
};

std::string py2_batch(const BatchSpec& spec) {
  Py2Pickle p;
  p.raw("\x80\x02}");
  p.put();
  p.op('(');
  if (spec.with_data) {
    p.str("data");
    std::string data;
    const std::size_t size = spec.data_bytes ? spec.data_bytes : spec.n * 3072;
    for (std::size_t k = 0; k < size; ++k) {
      data.push_back(static_cast<char>(pixel_value(spec.first + k / 3072, k % 3072)));
    }
    std::vector<std::int64_t> shape = spec.shape;
    if (shape.empty()) shape = {static_cast<std::int64_t>(spec.n), 3072};
    p.ndarray(shape, data);
  }
  if (spec.with_labels) {
    p.str("labels");
    std::vector<std::int64_t> labels = spec.labels;
    if (labels.empty()) {
      for (std::size_t i = 0; i < spec.n; ++i) labels.push_back(label_value(spec.first + i));
    }
    p.int_list(labels);
  }
  p.str("batch_label");
  p.str("training batch 1 of 5");
  p.str("filenames");
  p.op(']');
  p.put();
  p.op('(');
  for (std::size_t i = 0; i < spec.n; ++i) p.str("img_" + std::to_string(i) + ".png");
  p.op('e');
  p.op('u');
  p.op('.');
  return p.bytes;
}

ImageSet parse_py(const std::string& pickle) {
  return parse_cifar_python(to_bytes(pickle), "batch");
}

TEST(CifarBinary, ParsesRecordsChannelMajor) {
  const ImageSet set = parse_cifar_binary(cifar_binary(4), "b.bin");
  expect_values(set, 4);
  // Channel-major: the green plane of image 1 starts 1024 bytes into it.
  EXPECT_EQ(set.pixels[3072 + 1024], pixel_value(1, 1024));
}

TEST(CifarBinary, RejectsBadSizesAndLabels) {
  for (const std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(3072),
                                 std::size_t(3074), std::size_t(2 * 3073 - 1)}) {
    const Bytes b(size, 0);
    data_error([&] { parse_cifar_binary(b, "b.bin"); },
               "b.bin: expected a positive multiple of 3073 bytes (records of 1 label + 3x32x32 "
               "pixels), got " + std::to_string(size) + " bytes");
  }
  Bytes b = cifar_binary(3);
  b[2 * 3073] = 10;
  data_error([&] { parse_cifar_binary(b, "b.bin"); },
             "b.bin: expected labels below 10, got 10 for record 2");
}

TEST(CifarBinary, ReadsAndConcatenatesFiles) {
  TempDir dir;
  write_file(dir.file("a.bin"), cifar_binary(2, 0));
  write_file(dir.file("b.bin"), cifar_binary(3, 2));
  expect_values(read_cifar_binary({dir.file("a.bin"), dir.file("b.bin")}), 5);
  data_error([&] { read_cifar_binary({dir.file("a.bin"), dir.file("missing.bin")}); },
             dir.file("missing.bin") + ": cannot open file");
}

TEST(CifarBinary, AppendChecksShapes) {
  ImageSet all;
  append_images(all, parse_cifar_binary(cifar_binary(2), "a"));
  append_images(all, parse_cifar_binary(cifar_binary(1, 2), "b"));
  expect_values(all, 3);
  ImageSet gray;
  gray.n = 1;
  gray.channels = 1;
  gray.height = 28;
  gray.width = 28;
  gray.pixels.assign(784, 0);
  gray.labels.assign(1, 0);
  data_error([&] { append_images(all, gray); },
             "cannot append images of 1x28x28 to a set of 3x32x32");
}

TEST(CifarPython, ParsesThePython2Layout) {
  BatchSpec spec;
  spec.n = 3;
  expect_values(parse_py(py2_batch(spec)), 3);
}

TEST(CifarPython, ParsesLabelsAppendedInSeveralBatches) {
  // 1500 labels: two APPENDS groups, more than 256 memo entries (LONG_BINPUT), and an image
  // count that needs BININT2.
  BatchSpec spec;
  spec.n = 1500;
  const ImageSet set = parse_py(py2_batch(spec));
  expect_values(set, 1500);
}

TEST(CifarPython, ReadsFilesAndConcatenates) {
  TempDir dir;
  BatchSpec a;
  a.n = 2;
  BatchSpec b;
  b.n = 3;
  b.first = 2;
  write_file(dir.file("data_batch_1"), to_bytes(py2_batch(a)));
  write_file(dir.file("data_batch_2"), to_bytes(py2_batch(b)));
  expect_values(read_cifar_python({dir.file("data_batch_1"), dir.file("data_batch_2")}), 5);
}

TEST(CifarPython, RejectsWrongContent) {
  BatchSpec spec;
  spec.labels = {1, 10, 2};
  data_error([&] { parse_py(py2_batch(spec)); },
             "batch: expected labels to be ints in 0..9, got 10 for example 1");
  spec.labels = {1, -1, 2};
  data_error([&] { parse_py(py2_batch(spec)); }, "got -1 for example 1");
  spec.labels = {1, 2};
  data_error([&] { parse_py(py2_batch(spec)); },
             "expected 3 labels (one per row of 'data'), got 2");
  spec = BatchSpec{};
  spec.with_labels = false;
  data_error([&] { parse_py(py2_batch(spec)); }, "missing 'labels'");
  spec = BatchSpec{};
  spec.with_data = false;
  data_error([&] { parse_py(py2_batch(spec)); }, "missing 'data'");
  spec = BatchSpec{};
  spec.shape = {3, 1024, 3};
  data_error([&] { parse_py(py2_batch(spec)); },
             "expected 'data' of shape (n >= 1, 3072), got (3, 1024, 3)");
  spec = BatchSpec{};
  spec.data_bytes = 3 * 3072 - 1;
  data_error([&] { parse_py(py2_batch(spec)); },
             "ndarray shape holds 9216 bytes but its data has 9215");
  spec = BatchSpec{};
  spec.shape = {0x7fffffff, 0x7fffffff, 0x7fffffff};
  data_error([&] { parse_py(py2_batch(spec)); }, "batch: ");
}

TEST(CifarPython, EveryPrefixIsRejected) {
  BatchSpec spec;
  spec.n = 2;
  const std::string full = py2_batch(spec);
  for (std::size_t k = 0; k < full.size(); ++k) {
    data_error([&] { parse_py(full.substr(0, k)); }, "batch: ");
  }
}

TEST(CifarPython, FlippedBytesNeverCrash) {
  BatchSpec spec;
  spec.n = 1;
  const std::string full = py2_batch(spec);
  for (std::size_t k = 0; k < full.size(); ++k) {
    for (const unsigned char mask : {0x01, 0x80, 0xff}) {
      std::string bad = full;
      bad[k] = static_cast<char>(bad[k] ^ mask);
      try {
        const ImageSet set = parse_py(bad);
        // A flip inside the pixel bytes or a label value can still be a valid batch.
        EXPECT_EQ(set.n, 1);
        EXPECT_EQ(set.pixels.size(), 3072u);
        EXPECT_LT(set.labels.at(0), 10);
      } catch (const DataError&) {
      }
    }
  }
}

TEST(CifarPython, RejectsCodeExecutionAndUnknownOpcodes) {
  // The classic payload: GLOBAL os.system, args, REDUCE.
  data_error([&] { parse_py(lit("\x80\x02" "cos\nsystem\nU\x04" "echo\x85R.")); },
             "batch: pickle global 'os.system' is not allowed");
  data_error([&] { parse_py(lit("\x80\x02" "cbuiltins\neval\n.")); },
             "'builtins.eval' is not allowed");
  data_error([&] { parse_py(lit("\x80\x02" "cnumpy\nndarray\n)R.")); },
             "REDUCE on numpy.ndarray is not allowed");
  data_error([&] { parse_py(lit("\x80\x02" "cnumpy\ndtype\nU\x02" "f4K\x00K\x01\x87R.")); },
             "expected numpy dtype 'u1' (uint8), got 'f4'");
  data_error([&] { parse_py(lit("\x80\x02})R.")); }, "REDUCE on a dict");
  data_error([&] { parse_py(lit("\x80\x02})b.")); }, "BUILD on a dict is not allowed");
  data_error([&] { parse_py(lit("\x80\x02(iposix\nsystem\n.")); },
             "unsupported pickle opcode 0x69 'i' at byte 3");
  data_error([&] { parse_py(lit("\x80\x02(o.")); }, "unsupported pickle opcode 0x6f");
  data_error([&] { parse_py(lit("\x80\x02N)\x81.")); }, "unsupported pickle opcode 0x81");
  data_error([&] {
               parse_py(lit("\x80\x02" "c_codecs\nencode\nX\x03\x00\x00\x00" "abc"
                            "X\x05\x00\x00\x00" "utf-8\x86R."));
             },
             "expected _codecs.encode(<str>, 'latin1')");
}

TEST(CifarPython, RejectsMalformedStreams) {
  data_error([&] { parse_py(""); }, "batch: expected a pickle of protocol 2 to 4");
  data_error([&] { parse_py("(dp0\n."); }, "expected a pickle of protocol 2 to 4");
  data_error([&] { parse_py(lit("\x80\x05}.")); }, "expected pickle protocol 2 to 4, got 5");
  data_error([&] { parse_py(lit("\x80\x01}.")); }, "got 1");
  data_error([&] { parse_py(lit("\x80\x02}.x")); },
             "expected end of file after STOP, found 1 trailing bytes");
  data_error([&] { parse_py(lit("\x80\x02}}.")); },
             "expected one value on the stack at STOP, found 2");
  data_error([&] { parse_py(lit("\x80\x02(}.")); }, "unclosed MARK at STOP");
  data_error([&] { parse_py(lit("\x80\x02h\x05.")); }, "memo key 5 is undefined");
  data_error([&] { parse_py(lit("\x80\x02}(K\x01u.")); }, "odd number of items");
  data_error([&] { parse_py(lit("\x80\x02\x85.")); }, "pickle stack underflow");
  // Values below a MARK are out of reach until the MARK is consumed.
  data_error([&] { parse_py(lit("\x80\x02N(\x85.")); }, "pickle stack underflow");
  data_error([&] { parse_py(lit("\x80\x02" "T\xff\xff\xff\xff.")); },
             "negative BINSTRING length");
  data_error([&] { parse_py(lit("\x80\x02" "B\xff\xff\xff\x7f.")); },
             "truncated pickle: BINBYTES of 2147483647 bytes, 1 left");
  data_error([&] { parse_py(lit("\x80\x02K\x01.")); }, "expected a pickled dict, got int");
  data_error([&] { parse_py(std::string("\x80\x02" "cnumpy\n") + std::string(300, 'x')); },
             "unterminated or overlong GLOBAL name");
}

TEST(CifarPython, HostileShapesStayBounded) {
  // Deep nesting: a million nested tuples are held flat and freed without recursion.
  std::string deep("\x80\x02N", 3);
  deep += std::string(1000000, '\x85');
  deep += '.';
  data_error([&] { parse_py(deep); }, "expected a pickled dict, got tuple");
  // A list that contains itself through the memo.
  data_error([&] { parse_py(lit("\x80\x02]q\x00h\x00" "a.")); },
             "expected a pickled dict, got list");
  // Too many values on the stack (one object, pushed again and again from the memo).
  std::string wide("\x80\x02Nq\x00", 5);
  for (int k = 0; k < (1 << 20); ++k) wide += lit("h\x00");
  data_error([&] { parse_py(wide); }, "pickle stack deeper than 1048576");
  // One long text decoded again and again through the memo would multiply memory.
  std::string again = lit("\x80\x02" "c_codecs\nencode\nq\x00X\x64\x00\x00\x00");
  again += std::string(100, 'x');
  again += lit("q\x01X\x06\x00\x00\x00" "latin1q\x02(");
  for (int k = 0; k < 100; ++k) again += lit("h\x00h\x01h\x02\x86R");
  data_error([&] { parse_py(again); }, "_codecs.encode output exceeds the file size");
  // More dimensions than numpy allows.
  BatchSpec dims;
  dims.shape.assign(65, 1);
  dims.data_bytes = 1;
  data_error([&] { parse_py(py2_batch(dims)); }, "ndarray with 65 dimensions");
  // Names from the file are quoted safely into the one-line message.
  data_error([&] { parse_py(lit("\x80\x04\x8c\x03" "a\nb\x8c\x01" "c\x93.")); },
             "pickle global 'a?b.c' is not allowed");
  // Too many objects.
  std::string many("\x80\x02]", 3);
  for (int k = 0; k < (1 << 20) + 1; ++k) many += "Na";
  data_error([&] { parse_py(many); }, "more than 1048576 pickle objects");
}

// Python 3 re-dumps made by the real pickle module with numpy, so the reader is checked
// against pickle's actual output and not only against the hand-written Python 2 layout.
class CifarPythonGenerated : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string script = dir_->file("gen.py");
    std::ofstream(script) << R"PY(
import os, pickle, sys
try:
    import numpy as np
except Exception:
    sys.exit(3)
out = sys.argv[1]
n = 23
i = np.arange(n, dtype=np.int64)[:, None]
j = np.arange(3072, dtype=np.int64)[None, :]
data = ((i * 7 + j * 13) % 256).astype(np.uint8)
labels = [(k * 3) % 10 for k in range(n)]
def dump(name, obj, proto):
    with open(os.path.join(out, name), 'wb') as f:
        pickle.dump(obj, f, protocol=proto)
db = {b'batch_label': b'training batch 1 of 5', b'labels': labels, b'data': data,
      b'filenames': [b'img_%d.png' % k for k in range(n)]}
ds = {'batch_label': 'training batch 1 of 5', 'labels': labels, 'data': data,
      'filenames': ['img_%d.png' % k for k in range(n)]}
dump('p2_bytes', db, 2)
dump('p2_str', ds, 2)
dump('p3_bytes', db, 3)
dump('p4_str', ds, 4)
dump('p5_bytes', db, 5)
class Evil:
    def __reduce__(self):
        return (os.system, ('echo pwned',))
dump('evil', {b'data': Evil(), b'labels': labels}, 2)
dump('float', {b'data': data.astype(np.float32), b'labels': labels}, 2)
dump('narrow', {b'data': np.ascontiguousarray(data[:, :3071]), b'labels': labels}, 2)
dump('fortran', {b'data': np.asfortranarray(data), b'labels': labels}, 2)
dump('nplabels', {b'data': data, b'labels': np.array(labels, dtype=np.int64)}, 2)
)PY";
    const std::string cmd = std::string(BNL_PYTHON) + " " + script + " " + dir_->path.string();
    status_ = std::system(cmd.c_str());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (status_ != 0) {
      GTEST_SKIP() << BNL_PYTHON << " with numpy is not available (status " << status_ << ")";
    }
  }
  static ImageSet read(const std::string& name) { return read_cifar_python({dir_->file(name)}); }
  static std::string path(const std::string& name) { return dir_->file(name); }

  static inline TempDir* dir_ = nullptr;
  static inline int status_ = -1;
};

TEST_F(CifarPythonGenerated, ReadsProtocol2WithBytesKeys) { expect_values(read("p2_bytes"), 23); }
TEST_F(CifarPythonGenerated, ReadsProtocol2WithStrKeys) { expect_values(read("p2_str"), 23); }
TEST_F(CifarPythonGenerated, ReadsProtocol3) { expect_values(read("p3_bytes"), 23); }
TEST_F(CifarPythonGenerated, ReadsProtocol4) { expect_values(read("p4_str"), 23); }

TEST_F(CifarPythonGenerated, RejectsWhatIsNotACifarBatch) {
  data_error([&] { read("p5_bytes"); }, "expected pickle protocol 2 to 4, got 5");
  data_error([&] { read("evil"); }, path("evil") + ": pickle global 'posix.system' is not allowed");
  data_error([&] { read("float"); }, "expected numpy dtype 'u1' (uint8), got 'f4'");
  data_error([&] { read("narrow"); }, "got (23, 3071)");
  data_error([&] { read("fortran"); }, "expected a C-ordered ndarray, got Fortran order");
  data_error([&] { read("nplabels"); }, "expected numpy dtype 'u1' (uint8), got 'i8'");
}

TEST_F(CifarPythonGenerated, EveryPrefixOfARedumpIsRejected) {
  const Bytes full = read_file(path("p2_bytes"));
  // Every offset of the structure; the long latin-1 data string is sampled.
  for (std::size_t k = 0; k < full.size(); k += (k < 600 || k + 600 > full.size()) ? 1 : 97) {
    const Bytes prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(k));
    data_error([&] { parse_cifar_python(prefix, "p2"); }, "p2: ");
  }
}

}  // namespace
}  // namespace bnl::data
