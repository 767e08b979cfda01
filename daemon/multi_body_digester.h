// MultiBodyDigesterFactory: the BodyDigesterFactory crawler/ needs for
// fetched bodies and re-checks (crawler/body_digester.h), computing MD5,
// SHA-1 and SHA-256 with matcher/multi_digester.h. The factory returns null
// when the digester cannot be set up (the fetch or re-check then reports it).
// The factory is safe to call from any thread.
#pragma once

#include "crawler/body_digester.h"

namespace takedown {

BodyDigesterFactory MultiBodyDigesterFactory();

}  // namespace takedown
