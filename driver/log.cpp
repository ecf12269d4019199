#include "driver/log.h"

namespace qatc::driver {

bool& verbose() {
  static bool on = false;
  return on;
}

}  // namespace qatc::driver
