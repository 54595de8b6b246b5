// SPDX-License-Identifier: Apache-2.0
// Conversions between day counts since 1970-01-01 and proleptic Gregorian dates, by 400-year eras
// (146097 days each) so that the arithmetic stays in non-negative numbers.
#pragma once

#include <cstdint>

namespace instasent::detail {

struct CivilDate {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

inline CivilDate civil_from_days(std::int64_t days) {
  days += 719468;  // count from 0000-03-01, so that leap days end a year
  const std::int64_t era = floor_div(days, 146097);
  const auto day_of_era = static_cast<std::uint64_t>(days - era * 146097);
  const std::uint64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::uint64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::uint64_t month_index = (5 * day_of_year + 2) / 153;  // March is 0
  const auto day = static_cast<unsigned>(day_of_year - (153 * month_index + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(month_index < 10 ? month_index + 3 : month_index - 9);
  const std::int64_t year =
      static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

inline std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = floor_div(year, 400);
  const auto year_of_era = static_cast<std::uint64_t>(year - era * 400);
  const std::uint64_t month_index = month > 2 ? month - 3 : month + 9;
  const std::uint64_t day_of_year = (153 * month_index + 2) / 5 + day - 1;
  const std::uint64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

}  // namespace instasent::detail
