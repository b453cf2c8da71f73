#include "router/common/build_version.h"

#ifndef SWITCHBOARD_BUILD_VERSION
#error "SWITCHBOARD_BUILD_VERSION is set by router/common/CMakeLists.txt"
#endif

namespace switchboard {

std::string_view BuildVersion() { return SWITCHBOARD_BUILD_VERSION; }

}  // namespace switchboard
