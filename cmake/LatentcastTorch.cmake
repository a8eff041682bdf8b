# Finds LibTorch, from Debian's libtorch-dev (1.13, CPU) or a PyTorch wheel (2.x, CUDA), and exposes it as
# the interface target latentcast::torch. When the LibTorch has CUDA it enables the CUDA language and sets
# LATENTCAST_WITH_CUDA; GPU architectures are set on our targets afterwards (see model/kernels).
find_package(Torch CONFIG QUIET)
if(NOT Torch_FOUND)
  # Some LibTorch installs ship only Caffe2Config.cmake: assemble the same target from it.
  find_package(Caffe2 CONFIG REQUIRED)
  set(TORCH_LIBRARIES torch)
  get_filename_component(_lc_torch_prefix "${Caffe2_DIR}/../../../.." ABSOLUTE)
  set(TORCH_INCLUDE_DIRS ${_lc_torch_prefix}/include ${_lc_torch_prefix}/include/torch/csrc/api/include)
  find_library(_lc_c10 c10 PATHS ${_lc_torch_prefix}/lib REQUIRED)
  list(APPEND TORCH_LIBRARIES ${_lc_c10})
  set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")
  set(Torch_VERSION ${Caffe2_VERSION})
endif()
set(LATENTCAST_TORCH_VERSION ${Torch_VERSION})

# The C++ ABI flag must match LibTorch in every target that passes std::string across libraries, so it
# is the one global definition.
if(TORCH_CXX_FLAGS MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
  add_compile_definitions(_GLIBCXX_USE_CXX11_ABI=${CMAKE_MATCH_1})
endif()

add_library(latentcast_torch INTERFACE)
add_library(latentcast::torch ALIAS latentcast_torch)
target_include_directories(latentcast_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_link_libraries(latentcast_torch INTERFACE ${TORCH_LIBRARIES})

set(LATENTCAST_WITH_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(LATENTCAST_WITH_CUDA ON)
    # torch_cuda registers the CUDA backend from static initialisers: keep it linked even though no
    # symbol of ours refers to it.
    target_link_options(latentcast_torch INTERFACE "LINKER:--no-as-needed")
  else()
    message(WARNING "LibTorch has CUDA but no CUDA compiler was found: our CUDA kernels are skipped")
  endif()
endif()
