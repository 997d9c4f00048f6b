# Every dependency comes from a Debian package. A missing one stops configure with the
# package to install, so a new user knows what to do.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package pkg-config (apt-get install pkg-config)")
endif()

set(DT_DEP_TARGETS)
function(dt_require name module debian_package)
  pkg_check_modules(${name} QUIET IMPORTED_TARGET ${module})
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "${module} not found by pkg-config: install the Debian package ${debian_package} (apt-get install ${debian_package})")
  endif()
  set(DT_DEP_TARGETS ${DT_DEP_TARGETS} PkgConfig::${name} PARENT_SCOPE)
endfunction()

dt_require(LUAJIT luajit libluajit2-5.1-dev)
dt_require(LIBUV libuv libuv1-dev)
dt_require(CURL libcurl libcurl4-openssl-dev)
dt_require(OPENSSL openssl libssl-dev)
dt_require(CJSON libcjson libcjson-dev)
dt_require(SQLITE sqlite3 libsqlite3-dev)
dt_require(LIBEDIT libedit libedit-dev)

add_library(dt_deps INTERFACE)
target_link_libraries(dt_deps INTERFACE ${DT_DEP_TARGETS})

# llhttp: Debian ships its C sources in node-llhttp, not a library. Build them on their own,
# without our -Werror (they trip -Wunused-parameter).
set(LLHTTP_SOURCE_DIR /usr/share/llhttp CACHE PATH "llhttp C sources (Debian node-llhttp)")
set(LLHTTP_INCLUDE_DIR /usr/share/include/llhttp CACHE PATH "llhttp header (Debian node-llhttp)")
foreach(f api.c http.c llhttp.c)
  if(NOT EXISTS ${LLHTTP_SOURCE_DIR}/${f})
    message(FATAL_ERROR "llhttp source ${LLHTTP_SOURCE_DIR}/${f} not found: install the Debian package node-llhttp (apt-get install node-llhttp)")
  endif()
endforeach()
if(NOT EXISTS ${LLHTTP_INCLUDE_DIR}/llhttp.h)
  message(FATAL_ERROR "llhttp.h not found in ${LLHTTP_INCLUDE_DIR}: install the Debian package node-llhttp (apt-get install node-llhttp)")
endif()
add_library(llhttp STATIC ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c ${LLHTTP_SOURCE_DIR}/llhttp.c)
target_include_directories(llhttp PUBLIC ${LLHTTP_INCLUDE_DIR})
target_compile_options(llhttp PRIVATE -w)
set_target_properties(llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)
