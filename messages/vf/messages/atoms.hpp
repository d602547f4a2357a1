// vf/messages/atoms.hpp

#pragma once

// Atoms live in the type-ID block; this header is the one to include for them.
#include "vf/messages/type_ids.hpp"
