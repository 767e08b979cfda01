// RunPreservationCommand: `takedownctl preservation ...`, the preservation
// vault's tools, run on the daemon's host without a daemon:
//
//   keygen --out FILE                    a new seal key (0600; never overwrites)
//   info SEALED                          the key id and context of a sealed file
//   decrypt --key-file FILE --out OUT SEALED
//                                        the content, for handover to an
//                                        authority or court (OUT: a new file
//                                        made 0600, or - for stdout)
//
// decrypt writes only authenticated bytes; a file that fails authentication
// (altered, cut off) leaves no OUT file and exits 1. Errors name the file and
// go to `err`. Returns 0 on success, 1 on failure, 2 on a usage error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace takedown {

// `args` are the words after "preservation".
int RunPreservationCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace takedown
