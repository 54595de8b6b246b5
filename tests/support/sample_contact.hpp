// SPDX-License-Identifier: Apache-2.0
// A contact with the reserved fields a typical integration sends, for tests that need one.
#pragma once

#include <string>

#include "instasent/contact.hpp"

namespace instasent::testing {

/// Contact `user_id` as Ada Lovelace: first and last name, email, mobile phone, country and a
/// verified email, set in that order.
inline Contact ada_lovelace(const std::string& user_id) {
  Contact contact(user_id);
  contact.first_name("Ada")
      .last_name("Lovelace")
      .email("ada@example.com")
      .phone_mobile("+34600000000")
      .country_code("ES")
      .email_verified(true);
  return contact;
}

}  // namespace instasent::testing
