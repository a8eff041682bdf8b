# Settings every Latentcast target shares: C++17, warnings, include root.
function(latentcast_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  # No POSITION_INDEPENDENT_CODE: everything uses the compiler's default (PIE on Debian and Ubuntu), so
  # libraries and executables can share one LibTorch PCH (GCC rejects a PCH built with other -fpic/-fpie).
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "INTERFACE_LIBRARY")
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
  endif()
endfunction()

# Precompiled LibTorch headers for a target whose sources include torch; latentcast_model owns the
# PCH and the others reuse it (same flags), so torch/torch.h is parsed once per build.
function(latentcast_torch_pch target)
  if(TARGET latentcast_model AND NOT target STREQUAL "latentcast_model")
    target_precompile_headers(${target} REUSE_FROM latentcast_model)
  else()
    target_precompile_headers(${target} PRIVATE
                              $<$<COMPILE_LANGUAGE:CXX>:${PROJECT_SOURCE_DIR}/model/torch_pch.h>)
  endif()
endfunction()
