// SPDX-License-Identifier: Apache-2.0
// INSTASENT_UNDER_SANITIZER: 1 when built with AddressSanitizer or ThreadSanitizer, by GCC
// (__SANITIZE_*__) or clang (__has_feature), for the few tests those cannot run.
#pragma once

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define INSTASENT_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define INSTASENT_UNDER_SANITIZER 1
#endif
#endif
#ifndef INSTASENT_UNDER_SANITIZER
#define INSTASENT_UNDER_SANITIZER 0
#endif
