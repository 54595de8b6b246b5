// SPDX-License-Identifier: Apache-2.0
// The whole public API in one include.
#pragma once

#include "instasent/batch_result.hpp"
#include "instasent/client.hpp"
#include "instasent/clock.hpp"
#include "instasent/contact.hpp"
#include "instasent/curl_transport.hpp"
#include "instasent/error.hpp"
#include "instasent/event.hpp"
#include "instasent/http.hpp"
#include "instasent/ingestor.hpp"
#include "instasent/limits.hpp"
#include "instasent/log.hpp"
#include "instasent/options.hpp"
#include "instasent/results.hpp"
#include "instasent/retry.hpp"
#include "instasent/specs.hpp"
#include "instasent/transport.hpp"
#include "instasent/value.hpp"
#include "instasent/version.hpp"

/// @namespace instasent
/// The SDK's public API. `instasent::detail`, which the headers only forward-declare, is not part
/// of it.
