// Element types, quantization parameters and exact number text.
#include "ir/error.h"
#include "ir/number_text.h"
#include "ir/quant.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace qatc::ir;

TEST_CASE("integer ranges of every element type") {
  CHECK(int_min(DType::i8) == -128);
  CHECK(int_max(DType::i8) == 127);
  CHECK(int_min(DType::u8) == 0);
  CHECK(int_max(DType::u8) == 255);
  CHECK(int_min(DType::i16) == -32768);
  CHECK(int_max(DType::u16) == 65535);
  CHECK(int_max(DType::i32) == 2147483647);
  CHECK(int_min(DType::i64) == std::numeric_limits<int64_t>::min());
  for (DType t : {DType::f32, DType::f64, DType::i8, DType::u8, DType::i16, DType::u16, DType::i32, DType::i64})
    CHECK(parse_dtype(dtype_name(t)) == t);
  CHECK_FALSE(parse_dtype("f16"));
}

TEST_CASE("element counts past 2^63 are an error, not an overflow") {
  CHECK(num_elements({1, 3, 224, 224}) == 150528);
  CHECK(num_elements({}) == 1);
  CHECK(num_elements({4, 0, int64_t{1} << 62}) == 0);
  // The fuzzer's Expand to [..., 67, 82, 68, ..., 65536, 8]: the product wrapped (UBSan) before.
  CHECK_THROWS_WITH(num_elements({int64_t{1} << 40, int64_t{1} << 30}), Catch::Contains("more than 2^63 elements"));
  CHECK_THROWS_AS(num_elements({3037000500, 3037000500}), qatc::Error);
}

TEST_CASE("power-of-two exponents are exact") {
  CHECK(pot_exponent(1.0) == 0);
  CHECK(pot_exponent(0.0078125) == -7);
  CHECK(pot_exponent(std::ldexp(1.0, -140)) == -140);  // a float32 subnormal scale
  CHECK(pot_exponent(std::ldexp(1.0, 1023)) == 1023);
  CHECK_FALSE(pot_exponent(0.1));
  CHECK_FALSE(pot_exponent(3.0 * std::ldexp(1.0, -9)));
  CHECK_FALSE(pot_exponent(std::nextafter(0.5, 1.0)));
  CHECK_FALSE(pot_exponent(0.0));
  CHECK_FALSE(pot_exponent(-0.5));
  CHECK_FALSE(pot_exponent(std::numeric_limits<double>::infinity()));
}

TEST_CASE("scale text reads back to the same bits") {
  for (double s : {0.0078125, 0.1, static_cast<double>(0.1f), static_cast<double>(0.0235294122f), 1e-30,
                   std::ldexp(1.0, -149), 3.0, std::nextafter(1.0, 2.0)}) {
    auto back = parse_scale_text(scale_text(s));
    REQUIRE(back);
    CHECK(*back == s);
  }
  CHECK(scale_text(0.0078125) == "2^-7");
  CHECK(scale_text(4.0) == "2^2");
  CHECK_FALSE(parse_scale_text("2^x"));
  CHECK_FALSE(parse_scale_text("2^5000"));
  CHECK_FALSE(parse_scale_text("0.5garbage"));
}

TEST_CASE("quantized ranges follow bits and signedness") {
  QuantParams q;
  q.bits = 8;
  q.is_signed = true;
  CHECK(q.qmin() == -128);
  CHECK(q.qmax() == 127);
  q.is_signed = false;
  q.bits = 4;
  CHECK(q.qmin() == 0);
  CHECK(q.qmax() == 15);
  CHECK(storage_text(q) == "u4");
}

TEST_CASE("rounding rules have stable names") {
  for (Rounding r : {Rounding::half_even, Rounding::half_up, Rounding::half_away, Rounding::floor})
    CHECK(parse_rounding(rounding_name(r)) == r);
  CHECK_FALSE(parse_rounding("nearest"));
}

TEST_CASE("float text is the shortest exact form") {
  CHECK(float_text(0.1f) == "0.1");
  CHECK(double_text(static_cast<double>(0.1f)) == "0.10000000149011612");
  CHECK(double_text(-std::numeric_limits<double>::infinity()) == "-inf");
  CHECK(parse_double("1e-45") == 1e-45);
  CHECK_FALSE(parse_int("12a"));
  CHECK_FALSE(parse_int(""));
}
