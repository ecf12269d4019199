#include "ir/error.h"
#include "ir/limits.h"
#include "ir/number_text.h"
#include "ir/text.h"

#include <cctype>
#include <charconv>
#include <set>

namespace qatc::ir {

namespace {

enum class Tok { punct, value, global, string, word, number, end };

struct Token {
  Tok kind;
  std::string text;  // names without sigil or quotes, strings unescaped
  int line, col;
};

class Lexer {
 public:
  Lexer(std::string_view src, const std::string& file) : src_(src), file_(file) {}

  Token next() {
    skip_space_and_comments();
    Token t{Tok::end, "", line_, col_};
    if (pos_ >= src_.size()) return t;
    char c = src_[pos_];
    if (std::string_view("{}()[]<>=,:").find(c) != std::string_view::npos) {
      advance();
      t.kind = Tok::punct;
      t.text = c;
    } else if (c == '%' || c == '@') {
      advance();
      t.kind = c == '%' ? Tok::value : Tok::global;
      t.text = peek() == '"' ? quoted_string() : run(is_name_char);
      if (t.text.empty()) error(t, "expected a name after '" + std::string(1, c) + "'");
    } else if (c == '"') {
      t.kind = Tok::string;
      t.text = quoted_string();
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      t.kind = Tok::word;
      t.text = run([](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; });
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
      t.kind = Tok::number;
      t.text = run([](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '+' || ch == '-' || ch == '^';
      });
    } else {
      error(t, std::string("unexpected character '") + c + "'");
    }
    return t;
  }

  [[noreturn]] void error(const Token& at, const std::string& msg) const {
    fail("{}:{}:{}: {}", file_, at.line, at.col, msg);
  }

 private:
  static bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$' || c == '/' || c == '-';
  }
  char peek() const { return pos_ < src_.size() ? src_[pos_] : '\0'; }
  void advance() {
    if (src_[pos_++] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
  }
  template <typename Pred>
  std::string run(Pred pred) {
    size_t start = pos_;
    while (pos_ < src_.size() && pred(src_[pos_])) advance();
    return std::string(src_.substr(start, pos_ - start));
  }
  std::string quoted_string() {
    Token start{Tok::string, "", line_, col_};
    advance();  // opening quote
    std::string s;
    while (true) {
      if (pos_ >= src_.size()) error(start, "unterminated string");
      char c = src_[pos_];
      advance();
      if (c == '"') return s;
      if (c == '\\') {
        if (pos_ >= src_.size()) error(start, "unterminated string");
        char e = src_[pos_];
        advance();
        s += e == 'n' ? '\n' : e;
      } else {
        s += c;
      }
    }
  }
  void skip_space_and_comments() {
    while (pos_ < src_.size()) {
      if (std::isspace(static_cast<unsigned char>(src_[pos_]))) {
        advance();
      } else if (src_.substr(pos_, 2) == "//") {
        while (pos_ < src_.size() && src_[pos_] != '\n') advance();
      } else {
        break;
      }
    }
  }

  std::string_view src_;
  const std::string& file_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

class Parser {
 public:
  Parser(std::string_view text, const std::string& file) : lex_(text, file) { tok_ = lex_.next(); }

  Graph parse() {
    Graph g;
    expect_word("graph");
    g.name = expect(Tok::global, "a graph name '@name'").text;
    expect_punct("{");
    std::vector<std::pair<Op*, std::vector<Token>>> pending;  // operands resolved once all names are known
    std::vector<Token> outputs;
    while (!is_punct("}")) {
      if (accept_word("input")) {
        Token name = expect(Tok::value, "an input name");
        expect_punct(":");
        define(name);
        g.add_input(name.text, parse_type());
      } else if (accept_word("const")) {
        Token name = expect(Tok::value, "a constant name");
        expect_punct(":");
        TensorType type = parse_type();
        expect_punct("=");
        define(name);
        g.add_constant(name.text, parse_data(type, name), type.quant);
      } else if (accept_word("output")) {
        outputs.push_back(expect(Tok::value, "an output name"));
      } else if (tok_.kind == Tok::value) {
        pending.push_back(parse_op(g));
      } else {
        error("expected 'input', 'const', 'output', an op or '}'");
      }
    }
    expect_punct("}");
    if (tok_.kind != Tok::end) error("unexpected text after the graph");
    for (auto& [op, operands] : pending)
      for (const Token& t : operands) op->inputs.push_back(lookup(g, t));
    for (const Token& t : outputs) g.add_output(lookup(g, t));
    g.sort_topologically();
    return g;
  }

 private:
  std::pair<Op*, std::vector<Token>> parse_op(Graph& g) {
    std::vector<Token> results{expect(Tok::value, "a result name")};
    while (accept_punct(",")) results.push_back(expect(Tok::value, "a result name"));
    expect_punct("=");
    Token kind_tok = expect(Tok::word, "an op name");
    auto kind = parse_op_kind(kind_tok.text);
    if (!kind) lex_.error(kind_tok, "unknown op '" + kind_tok.text + "'");
    std::vector<Token> operands;
    expect_punct("(");
    if (!accept_punct(")")) {
      do operands.push_back(expect(Tok::value, "an operand name"));
      while (accept_punct(","));
      expect_punct(")");
    }
    std::map<std::string, AttrValue> attrs;
    if (accept_punct("{")) {
      do {
        Token name = expect(Tok::word, "an attribute name");
        expect_punct("=");
        attrs[name.text] = parse_attr(*kind, name);
      } while (accept_punct(","));
      expect_punct("}");
    }
    expect_punct(":");
    std::vector<std::pair<std::string, TensorType>> outs;
    for (size_t i = 0; i < results.size(); ++i) {
      if (i) expect_punct(",");
      define(results[i]);
      outs.emplace_back(results[i].text, parse_type());
    }
    std::string loc;
    if (accept_word("loc")) {
      expect_punct("(");
      loc = expect(Tok::string, "a location string").text;
      expect_punct(")");
    }
    return {g.add_op(*kind, {}, std::move(outs), std::move(attrs), loc), operands};
  }

  // Attribute values are typed by the op's schema, so `scales = [1, 2]` reads as floats.
  AttrValue parse_attr(OpKind kind, const Token& name) {
    AttrKind want = AttrKind::int_;
    for (const auto& spec : op_info(kind).attrs)
      if (spec.name == name.text) want = spec.kind;
    if (tok_.kind == Tok::string) return next().text;
    if (accept_punct("[")) {
      std::vector<Token> items;
      if (!accept_punct("]")) {
        do items.push_back(expect(Tok::number, "a number"));
        while (accept_punct(","));
        expect_punct("]");
      }
      if (want == AttrKind::floats) {
        std::vector<double> v;
        for (const Token& t : items) v.push_back(to_double(t));
        return v;
      }
      std::vector<int64_t> v;
      for (const Token& t : items) v.push_back(to_int(t));
      return v;
    }
    Token t = number_token();
    if (want == AttrKind::float_) return to_double(t);
    return to_int(t);
  }

  TensorType parse_type() {
    Token dt = expect(Tok::word, "an element type");
    auto dtype = parse_dtype(dt.text);
    if (!dtype) lex_.error(dt, "unknown element type '" + dt.text + "'");
    TensorType type{*dtype, {}, std::nullopt};
    expect_punct("[");
    if (!accept_punct("]")) {
      do type.shape.push_back(to_int(expect(Tok::number, "a dimension")));
      while (accept_punct(","));
      expect_punct("]");
    }
    if (accept_word("quant")) type.quant = parse_quant();
    return type;
  }

  QuantParams parse_quant() {
    QuantParams q;
    expect_punct("<");
    Token storage = expect(Tok::word, "a storage type like i8 or u4");
    auto bits = storage.text.size() > 1 ? parse_int(std::string_view(storage.text).substr(1)) : std::nullopt;
    if ((storage.text[0] != 'i' && storage.text[0] != 'u') || !bits || *bits < 2 || *bits > 32)
      lex_.error(storage, "bad quantized storage type '" + storage.text + "'");
    q.is_signed = storage.text[0] == 'i';
    q.bits = static_cast<int>(*bits);
    expect_punct(":");
    if (accept_word("axis")) {
      expect_punct("=");
      q.axis = static_cast<int>(to_int(expect(Tok::number, "an axis")));
      expect_punct(",");
      expect_word("scale");
      expect_punct("=");
      expect_punct("[");
      do q.scales.push_back(to_scale(expect(Tok::number, "a scale")));
      while (accept_punct(","));
      expect_punct("]");
      expect_punct(",");
      expect_word("zp");
      expect_punct("=");
      expect_punct("[");
      do q.zero_points.push_back(to_int(expect(Tok::number, "a zero point")));
      while (accept_punct(","));
      expect_punct("]");
    } else {
      expect_word("scale");
      expect_punct("=");
      q.scales.push_back(to_scale(expect(Tok::number, "a scale")));
      expect_punct(",");
      expect_word("zp");
      expect_punct("=");
      q.zero_points.push_back(to_int(expect(Tok::number, "a zero point")));
    }
    expect_punct(">");
    return q;
  }

  TensorData parse_data(const TensorType& type, const Token& name) {
    if (is_punct("<")) lex_.error(tok_, "constant '%" + name.text + "' was printed elided; its values are missing");
    try {
      checked_num_elements(type.shape, type.dtype, "constant '%" + name.text + "'");  // before allocating
    } catch (const Error& e) {
      lex_.error(name, e.what());
    }
    TensorData data(type.dtype, type.shape);
    expect_punct("[");
    int64_t i = 0;
    if (!accept_punct("]")) {
      do {
        Token t = number_token();
        if (i >= data.size()) lex_.error(t, "too many values for constant '%" + name.text + "'");
        visit_dtype(type.dtype, [&](auto z) {
          using T = decltype(z);
          if constexpr (std::is_floating_point_v<T>) {
            data.as<T>()[i] = static_cast<T>(to_float<T>(t));
          } else {
            int64_t v = to_int(t);
            if (v < int_min(type.dtype) || v > int_max(type.dtype))
              lex_.error(t, "value out of range for " + std::string(dtype_name(type.dtype)));
            data.as<T>()[i] = static_cast<T>(v);
          }
        });
        ++i;
      } while (accept_punct(","));
      expect_punct("]");
    }
    if (i != data.size())
      lex_.error(name, "constant '%" + name.text + "' has " + std::to_string(i) + " values, its type needs " +
                           std::to_string(data.size()));
    return data;
  }

  // A number, or inf/nan written as words.
  Token number_token() {
    if (tok_.kind == Tok::word && (tok_.text == "inf" || tok_.text == "nan")) return next();
    return expect(Tok::number, "a number");
  }

  template <typename T>
  T to_float(const Token& t) {
    if constexpr (std::is_same_v<T, float>) {
      // Parse straight to float: going through double could round twice.
      if (t.text == "inf" || t.text == "-inf" || t.text == "nan") return static_cast<float>(to_double(t));
      float v = 0;
      auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
      if (ec != std::errc() || end != t.text.data() + t.text.size()) lex_.error(t, "bad number '" + t.text + "'");
      return v;
    } else {
      return to_double(t);
    }
  }
  double to_double(const Token& t) {
    auto v = parse_double(t.text);
    if (!v) lex_.error(t, "bad number '" + t.text + "'");
    return *v;
  }
  double to_scale(const Token& t) {
    auto v = parse_scale_text(t.text);
    if (!v) lex_.error(t, "bad scale '" + t.text + "'");
    return *v;
  }
  int64_t to_int(const Token& t) {
    auto v = parse_int(t.text);
    if (!v) lex_.error(t, "expected an integer, got '" + t.text + "'");
    return *v;
  }

  void define(const Token& name) {
    if (!defined_.insert(name.text).second) lex_.error(name, "'%" + name.text + "' is defined twice");
  }
  Value* lookup(const Graph& g, const Token& t) {
    Value* v = g.find_value(t.text);
    if (!v) lex_.error(t, "'%" + t.text + "' is not defined");
    return v;
  }

  Token next() {
    Token t = tok_;
    tok_ = lex_.next();
    return t;
  }
  [[noreturn]] void error(const std::string& msg) { lex_.error(tok_, msg); }
  bool is_punct(std::string_view p) const { return tok_.kind == Tok::punct && tok_.text == p; }
  bool accept_punct(std::string_view p) {
    if (!is_punct(p)) return false;
    next();
    return true;
  }
  void expect_punct(std::string_view p) {
    if (!accept_punct(p)) error("expected '" + std::string(p) + "'");
  }
  bool accept_word(std::string_view w) {
    if (tok_.kind != Tok::word || tok_.text != w) return false;
    next();
    return true;
  }
  void expect_word(std::string_view w) {
    if (!accept_word(w)) error("expected '" + std::string(w) + "'");
  }
  Token expect(Tok kind, const std::string& what) {
    if (tok_.kind != kind) error("expected " + what);
    return next();
  }

  Lexer lex_;
  Token tok_;
  std::set<std::string> defined_;
};

}  // namespace

Graph parse_graph(std::string_view text, const std::string& filename) { return Parser(text, filename).parse(); }

}  // namespace qatc::ir
