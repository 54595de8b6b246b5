// SPDX-License-Identifier: Apache-2.0
// The numbers the SDK checks before it sends anything and while it reads an answer. Each one is
// written down here and in the README, and tested.
#pragma once

#include <cstddef>

namespace instasent {

/// The API's limit of items per batch request.
inline constexpr std::size_t kMaxBatchItems = 100;

/// The longest id the SDK sends, in bytes of UTF-8: `_user_id`, `_event_id`, `_event_type`, the
/// project and the datasource. Longer ones are refused with `InvalidInputError`.
inline constexpr std::size_t kMaxIdBytes = 1024;

/// How deeply an event parameter's value may nest arrays and objects (a flat array or object is
/// 1). Deeper values are refused where they are set, so that no request carries a body the API
/// would refuse as a whole.
inline constexpr std::size_t kMaxValueDepth = 16;

/// An answer whose JSON nests arrays and objects deeper than this is not parsed: it is treated as
/// unreadable (its items are `unknown`; read calls throw `UnreadableResponseError`).
inline constexpr std::size_t kMaxAnswerNesting = 64;

/// The default of `CurlTransportOptions::max_response_bytes`: the most an answer's body may hold,
/// counted after decompression.
inline constexpr std::size_t kDefaultMaxResponseBytes = 16u << 20;

/// The most an answer's header fields may take together; a longer head ends the exchange.
inline constexpr std::size_t kMaxResponseHeaderBytes = 256u << 10;

/// What is kept of the errors a server gives for one rejected item (`ItemResult::errors`): at
/// most this many fields, messages per field, and bytes per field name and per message. Text is
/// kept printable (control characters and invalid UTF-8 escaped, see the README) and cut with
/// "..."; what is left out is summed up under the field "" as "(N more errors not kept)".
inline constexpr std::size_t kMaxErrorFields = 64;
/// Messages kept per field of a rejected item (see `kMaxErrorFields`).
inline constexpr std::size_t kMaxMessagesPerField = 16;
/// Bytes kept per field name of a rejected item (see `kMaxErrorFields`).
inline constexpr std::size_t kMaxErrorFieldBytes = 200;
/// Bytes kept per message of a rejected item (see `kMaxErrorFields`).
inline constexpr std::size_t kMaxErrorMessageBytes = 1000;

}  // namespace instasent
