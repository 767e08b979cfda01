#include "common/clock.h"

namespace takedown {

Clock& SystemClock::Get() {
  static SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace takedown
