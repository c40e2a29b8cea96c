# TOKRL_SANITIZER=address -> ASan + UBSan (with float-cast-overflow: a
# double that does not fit its integer, e.g. inf -> int64, is an error);
# TOKRL_SANITIZER=thread -> TSan.
# Applies to every target in the project. Keep CUDA builds out of ASan
# (ASan's shadow gap collides with the CUDA driver's reservations).
if(TOKRL_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined,float-cast-overflow
                      -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined,float-cast-overflow)
elseif(TOKRL_SANITIZER STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT TOKRL_SANITIZER STREQUAL "")
  message(FATAL_ERROR "TOKRL_SANITIZER must be '', 'address' or 'thread', got '${TOKRL_SANITIZER}'")
endif()
