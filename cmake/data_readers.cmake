# The data readers without libtorch (the standard library and zlib only): gzip files, IDX,
# CIFAR-10 binary and python batches with their restricted pickle interpreter. One target,
# bnl_data_readers, defined here for both builds that compile them: the main build (bnl_data
# links it) and the fuzz build (fuzz/CMakeLists.txt adds the sanitizers).

set(BNL_DATA_READER_SOURCES gzip_file.cpp idx_reader.cpp cifar_reader.cpp restricted_pickle.cpp
                            pickle_constructors.cpp)

# Defines the STATIC library bnl_data_readers from the sources under `root`/src/data.
function(bnl_data_readers_library root)
  list(TRANSFORM BNL_DATA_READER_SOURCES PREPEND ${root}/src/data/ OUTPUT_VARIABLE srcs)
  add_library(bnl_data_readers STATIC ${srcs})
  target_include_directories(bnl_data_readers PUBLIC ${root}/include)
  target_link_libraries(bnl_data_readers PUBLIC ZLIB::ZLIB)
endfunction()
