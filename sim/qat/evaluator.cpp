#include "sim/qat/evaluator.h"

#include "ir/error.h"
#include "sim/qat/conv_bn_pattern.h"
#include "sim/qat/enclosure_arith.h"
#include "sim/qat/exact_arith.h"
#include "sim/qat/float32_arith.h"
#include "sim/qat/int_arith.h"
#include "sim/qat/kernels.h"
#include "sim/qat/lifetimes.h"
#include "sim/qat/numeric_error.h"
#include "sim/qat/tensor_io.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <variant>

namespace qatc::sim {

namespace {

template <class A>
class Evaluation;

// A batchnorm parameter's values as doubles (NumericError where one is not a double).
template <class A>
std::vector<double> doubles_of(const Array<typename A::Num>& p) {
  std::vector<double> d;
  for (const auto& v : p.data) d.push_back(A::to_double(v));
  return d;
}

// A graph ready to run on policy A: its ops in order, when each value dies, and every value that
// depends on constants only (weights, their fake-quant, folded shapes), computed once so that each
// run starts from them. The ops that compute such values never run again; an observer sees their
// results as recorded here.
template <class A>
struct Prepared {
  using Arith = A;
  using Tensor = SimTensor<A>;

  Prepared(const ir::Graph& graph, const QatOptions& opts, bool observed);

  const ir::Graph& g;
  QatOptions options;
  ConvBnFolds folds;  // exact mode only
  std::vector<ir::Op*> ops;
  std::unordered_map<const ir::Value*, size_t> last_use;
  std::vector<bool> constant;                 // per op: reads only constant-derived values
  std::vector<ir::TensorData> exports;        // per constant op, its result for observers (when observed)
  std::unordered_map<const ir::Value*, Tensor> values;  // the constant-derived values a later op or output reads
  // Exact mode, unless options.literal_conv_bn_chains: each folding Conv -> Div -> [Add] ->
  // BatchNormalization chain runs as one addition at its batchnorm, of the per-channel addend
  // (b - mean) * c + beta to the div's input; its div and add are skipped.
  struct FusedChain {
    const ir::Value* source;  // the div's input
    std::vector<typename A::Num> addend;
  };
  std::unordered_map<const ir::Op*, FusedChain> fused;  // by batchnorm
  std::vector<bool> skipped;                            // per op
  // The constant second operands of convs and matmuls as their dot products read them (exact
  // mode: integer multiples of a power of two), converted once instead of every run.
  std::unordered_map<const ir::Value*, typename A::PreparedOperand> dot_operands;

 private:
  void fuse_conv_bn_chains();
  void prepare_dot_operands();
};

// One evaluation of a prepared graph with float tensors in policy A's numbers; integer tensors are int64.
template <class A>
class Evaluation {
 public:
  using Num = typename A::Num;
  using Tensor = SimTensor<A>;

  Evaluation(const Prepared<A>& p, const QatObserver& observer) : p_(p), g_(p.g), options_(p.options), observer_(observer) {}

  // The constant part of the graph, for Prepared: imports the constants, runs the ops that read only
  // them, records their results for observers if asked, and returns the values later ops read.
  std::unordered_map<const ir::Value*, Tensor> run_constant_part(std::vector<bool>& constant,
                                                                 std::vector<ir::TensorData>* exports) {
    for (const ir::Value* c : g_.constants()) {
      if (c->data->shape() != c->type.shape)
        fail("constant '{}' holds {} data but has type shape {}", c->name, ir::shape_string(c->data->shape()),
             ir::shape_string(c->type.shape));
      values_[c] = imported(c->name, *c->data);
    }
    const std::vector<ir::Op*>& ops = p_.ops;
    constant.assign(ops.size(), false);
    std::unordered_set<const ir::Value*> read_later;  // by an op that runs per evaluation, or an output
    for (size_t i = 0; i < ops.size(); ++i) {
      const ir::Op& op = *ops[i];
      constant[i] = std::all_of(op.inputs.begin(), op.inputs.end(), [&](const ir::Value* v) { return values_.count(v); });
      if (!constant[i]) {
        read_later.insert(op.inputs.begin(), op.inputs.end());
        continue;
      }
      Tensor result = checked_evaluate(op);
      if (exports) (*exports)[i] = export_tensor<A>(result, op.outputs[0]->type.dtype, /*exact_only=*/false);
      values_[op.outputs[0]] = std::move(result);
    }
    read_later.insert(g_.outputs().begin(), g_.outputs().end());
    std::erase_if(values_, [&](const auto& kv) { return !read_later.count(kv.first); });
    return std::move(values_);
  }

  std::vector<ir::TensorData> run(const std::vector<ir::TensorData>& inputs) {
    bind_inputs(inputs);
    const std::vector<ir::Op*>& ops = p_.ops;
    for (size_t i = 0; i < ops.size(); ++i) {
      const ir::Op& op = *ops[i];
      if (p_.constant[i]) {
        if (observer_) observer_(op, p_.exports.at(i));
        continue;
      }
      if (p_.skipped[i]) continue;
      Tensor result = checked_evaluate(op);
      if (observer_) observer_(op, export_tensor<A>(result, op.outputs[0]->type.dtype, /*exact_only=*/false));
      for (const ir::Value* in : op.inputs)
        if (p_.last_use.at(in) == i) values_.erase(in);
      if (auto f = p_.fused.find(&op); f != p_.fused.end() && p_.last_use.at(f->second.source) == i)
        values_.erase(f->second.source);
      values_[op.outputs[0]] = std::move(result);
    }
    std::vector<ir::TensorData> outputs;
    for (const ir::Value* v : g_.outputs()) {
      const Tensor* t = find(v);
      if (!t) fail("output '{}' is not computed by the graph", v->name);
      try {
        outputs.push_back(export_tensor<A>(*t, v->type.dtype, /*exact_only=*/true));
      } catch (const NumericError& e) {
        fail("output '{}': {}", v->name, e.what());
      }
    }
    return outputs;
  }

 private:
  // This run's value of v, else the prepared constant-derived one, else null.
  const Tensor* find(const ir::Value* v) const {
    if (auto it = values_.find(v); it != values_.end()) return &it->second;
    if (auto it = p_.values.find(v); it != p_.values.end()) return &it->second;
    return nullptr;
  }

  void bind_inputs(const std::vector<ir::TensorData>& inputs) {
    if (inputs.size() != g_.inputs().size())
      fail("the graph has {} inputs, {} were given", g_.inputs().size(), inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const ir::Value* v = g_.inputs()[i];
      if (ir::is_float(inputs[i].dtype()) != ir::is_float(v->type.dtype))
        fail("input '{}' is {} but {} data was given", v->name, ir::dtype_name(v->type.dtype),
             ir::dtype_name(inputs[i].dtype()));
      if (inputs[i].shape() != v->type.shape)
        fail("input '{}' has shape {} but data of shape {} was given", v->name, ir::shape_string(v->type.shape),
             ir::shape_string(inputs[i].shape()));
      values_[v] = imported(v->name, inputs[i]);
    }
  }

  Tensor imported(const std::string& name, const ir::TensorData& d) const {
    try {
      return import_tensor<A>(d);
    } catch (const NumericError& e) {
      fail("tensor '{}': {}", name, e.what());
    }
  }

  Tensor checked_evaluate(const ir::Op& op) {
    op.info().check_types(op);
    const ir::Shape shape = op.info().infer_shape(op);
    Tensor result;
    try {
      result = evaluate(op);
    } catch (const NumericError& e) {
      fail("{}: {}", op.describe(), e.what());
    }
    std::visit([&](const auto& a) {
      if (a.shape != shape)
        throw std::logic_error(fmt::format("{}: computed shape {}, expected {}", op.describe(),
                                           ir::shape_string(a.shape), ir::shape_string(shape)));
    }, result);
    if (const auto* ints = std::get_if<Array<int64_t>>(&result)) check_range(op, *ints);
    return result;
  }

  // Integer results must fit their dtype: the reference evaluator never wraps silently.
  static void check_range(const ir::Op& op, const Array<int64_t>& r) {
    const ir::DType t = op.outputs[0]->type.dtype;
    for (int64_t v : r.data)
      if (v < ir::int_min(t) || v > ir::int_max(t))
        fail("{}: integer result {} does not fit {}", op.describe(), v, ir::dtype_name(t));
  }

  template <class B>
  const Array<typename B::Num>& operand(const ir::Op& op, size_t i) const {
    return value_of<B>(op, op.inputs[i]);
  }

  // Value v, read by op, as policy B's numbers.
  template <class B>
  const Array<typename B::Num>& value_of(const ir::Op& op, const ir::Value* v) const {
    const Tensor* t = find(v);
    if (!t) fail("{}: operand '{}' has no value (ops out of topological order?)", op.describe(), v->name);
    const auto* a = std::get_if<Array<typename B::Num>>(t);
    if (!a && std::holds_alternative<Array<Enclosure>>(*t))
      fail("{}: operand '{}' holds irrational values (of a transcendental function), which the exact evaluator "
           "carries only through elementwise arithmetic to a quantize",
           op.describe(), v->name);
    if (!a) fail("{}: operand '{}' is not a{} tensor", op.describe(), v->name, B::integer ? "n integer" : " float");
    return *a;
  }

  // The prepared second operand of conv or matmul `op` in policy B, or null.
  template <class B>
  const typename B::PreparedOperand* prepared_operand(const ir::Op& op) const {
    if constexpr (std::is_same_v<B, A>) {
      auto it = p_.dot_operands.find(op.inputs[1]);
      if (it != p_.dot_operands.end()) return &it->second;
    }
    return nullptr;
  }

  // Whether an operand holds enclosures (exact mode, after a transcendental function).
  bool enclosed(const ir::Op& op) const {
    for (const ir::Value* v : op.inputs)
      if (const Tensor* t = find(v); t && std::holds_alternative<Array<Enclosure>>(*t)) return true;
    return false;
  }

  // Operand i as enclosures: the value itself, or an exact float operand enclosed into `promoted`.
  const Array<Enclosure>& enclosure_operand(const ir::Op& op, size_t i, Array<Enclosure>& promoted) const {
    if (const auto* e = std::get_if<Array<Enclosure>>(find(op.inputs[i]))) return *e;
    if constexpr (std::is_same_v<Num, Exact>) {
      const Array<Exact>& x = operand<A>(op, i);
      promoted = Array<Enclosure>(x.shape);
      for (size_t k = 0; k < x.data.size(); ++k) promoted.data[k] = Enclosure(x.data[k]);
      return promoted;
    }
    throw std::logic_error("enclosure_operand(): enclosures exist in exact mode only");
  }

  // A binary elementwise op on enclosures, if an operand holds them.
  template <class F>
  std::optional<Tensor> on_enclosures(const ir::Op& op, F&& f) const {
    if (!enclosed(op)) return std::nullopt;
    std::vector<Array<Enclosure>> promoted(op.inputs.size());
    std::vector<const Array<Enclosure>*> xs;
    for (size_t i = 0; i < op.inputs.size(); ++i) xs.push_back(&enclosure_operand(op, i, promoted[i]));
    return Tensor(f(xs));
  }

  Tensor evaluate_transcendental(const ir::Op& op) {
    if (auto r = on_enclosures(op, [&](const auto& xs) { return transcendental(op, *xs[0]); })) return std::move(*r);
    return transcendental(op, operand<A>(op, 0));
  }

  // Runs f(policy) with the integer policy or A, as the op's tensors are integer or float.
  template <class F>
  Tensor on_element_type(bool integer, F&& f) {
    if (integer) return Tensor(f(IntArith{}));
    return Tensor(f(A{}));
  }

  Tensor evaluate(const ir::Op& op) {
    using K = ir::OpKind;
    const bool integer = ir::is_integer(op.outputs[0]->type.dtype);
    // Unary ops on one operand of the result's element type.
    auto unary = [&](auto kernel) {
      return on_element_type(integer, [&](auto b) { return kernel(b, operand<decltype(b)>(op, 0)); });
    };
    switch (op.kind) {
      case K::conv:
        return on_element_type(ir::is_integer(op.inputs[0]->type.dtype), [&](auto b) {
          using B = decltype(b);
          return conv<B>(op, operand<B>(op, 0), operand<B>(op, 1), op.inputs.size() > 2 ? &operand<B>(op, 2) : nullptr,
                         prepared_operand<B>(op));
        });
      case K::matmul:
        return on_element_type(ir::is_integer(op.inputs[0]->type.dtype), [&](auto b) {
          using B = decltype(b);
          return matmul<B>(op, operand<B>(op, 0), operand<B>(op, 1), prepared_operand<B>(op));
        });
      case K::batchnorm: return evaluate_batchnorm(op);
      case K::add:
      case K::sub:
      case K::mul:
      case K::div:
        if (auto r = on_enclosures(op, [&](const auto& xs) { return binary<EnclosureArith>(op, *xs[0], *xs[1]); }))
          return std::move(*r);
        if (op.kind == K::div) return binary<A>(op, operand<A>(op, 0), operand<A>(op, 1));
        return on_element_type(integer, [&](auto b) {
          using B = decltype(b);
          return binary<B>(op, operand<B>(op, 0), operand<B>(op, 1));
        });
      case K::relu:
        if (auto r = on_enclosures(op, [&](const auto& xs) { return relu<EnclosureArith>(*xs[0]); })) return std::move(*r);
        return unary([&](auto b, const auto& x) { return relu<decltype(b)>(x); });
      case K::clip:
        if (auto r = on_enclosures(op, [&](const auto& xs) { return clip<EnclosureArith>(op, *xs[0]); }))
          return std::move(*r);
        return unary([&](auto b, const auto& x) { return clip<decltype(b)>(op, x); });
      case K::leaky_relu:
        if (auto r = on_enclosures(op, [&](const auto& xs) { return leaky_relu<EnclosureArith>(op, *xs[0]); }))
          return std::move(*r);
        return leaky_relu<A>(op, operand<A>(op, 0));
      case K::elu:
      case K::sigmoid:
      case K::tanh:
      case K::erf:
      case K::exp:
      case K::log:
      case K::softplus: return evaluate_transcendental(op);
      case K::concat:
        return on_element_type(integer, [&](auto b) {
          using B = decltype(b);
          std::vector<const Array<typename B::Num>*> parts;
          for (size_t i = 0; i < op.inputs.size(); ++i) parts.push_back(&operand<B>(op, i));
          return concat(op, parts);
        });
      case K::maxpool: return unary([&](auto b, const auto& x) { return maxpool<decltype(b)>(op, x); });
      case K::avgpool:
        if (integer) fail("{}: the integer form belongs to the lowered graph; the integer simulator runs it", op.describe());
        return avgpool<A>(op, operand<A>(op, 0));
      case K::pad:
        return unary([&](auto b, const auto& x) { return pad(op, x, decltype(b)::from_double(op.get_float("value"))); });
      case K::resize: return unary([&](auto, const auto& x) { return resize(op, x); });
      case K::reshape: return unary([&](auto, const auto& x) { return reshape(op, x); });
      case K::transpose: return unary([&](auto, const auto& x) { return transpose(op, x); });
      case K::slice: return unary([&](auto, const auto& x) { return slice(op, x); });
      case K::quantize:
        if (auto r = on_enclosures(op, [&](const auto& xs) { return quantize<EnclosureArith>(op, *xs[0], options_); }))
          return std::move(*r);
        return quantize<A>(op, operand<A>(op, 0), options_);
      case K::dequantize: return dequantize<A>(op, operand<IntArith>(op, 0));
      case K::requantize:
      case K::widen:
      case K::lut: fail("{}: an op of the lowered integer graph; the integer simulator runs it", op.describe());
    }
    __builtin_unreachable();
  }

  Tensor evaluate_batchnorm(const ir::Op& op) {
    if constexpr (std::is_same_v<A, ExactArith>)
      if (auto f = p_.fused.find(&op); f != p_.fused.end()) return add_per_channel<A>(value_of<A>(op, f->second.source), f->second.addend);
    const auto& x = operand<A>(op, 0);
    const auto& scale = operand<A>(op, 1);
    const auto& bias = operand<A>(op, 2);
    const auto& mean = operand<A>(op, 3);
    const auto& var = operand<A>(op, 4);
    const std::vector<float> alpha_f32 = batchnorm_alpha_f32(op, doubles_of<A>(scale), doubles_of<A>(var));
    std::vector<Num> alpha;
    std::optional<std::vector<double>> folded;
    if (const ir::Value* c = p_.folds.divisor_of(op)) folded = folded_alpha(*c, x.shape, alpha_f32);
    for (size_t c = 0; c < alpha_f32.size(); ++c)
      alpha.push_back(A::from_double(folded ? (*folded)[c] : static_cast<double>(alpha_f32[c])));
    return batchnorm<A>(x, bias, mean, alpha);
  }

  const Prepared<A>& p_;
  const ir::Graph& g_;
  const QatOptions& options_;
  const QatObserver& observer_;
  std::unordered_map<const ir::Value*, Tensor> values_;
};

template <class A>
Prepared<A>::Prepared(const ir::Graph& graph, const QatOptions& opts, bool observed)
    : g(graph), options(opts), ops(graph.ops()), last_use(last_uses(graph, ops)) {
  if constexpr (std::is_same_v<A, ExactArith>) folds = ConvBnFolds(graph);
  if (observed) exports.resize(ops.size());
  values = Evaluation<A>(*this, {}).run_constant_part(constant, observed ? &exports : nullptr);
  skipped.assign(ops.size(), false);
  if constexpr (std::is_same_v<A, ExactArith>) {
    if (!options.literal_conv_bn_chains) fuse_conv_bn_chains();
    prepare_dot_operands();
  }
}

// Exact mode: each conv's or matmul's prepared second operand, as its dot product reads it.
template <class A>
void Prepared<A>::prepare_dot_operands() {
  for (size_t i = 0; i < ops.size(); ++i) {
    const ir::Op& op = *ops[i];
    if (constant[i] || (op.kind != ir::OpKind::conv && op.kind != ir::OpKind::matmul) || dot_operands.count(op.inputs[1])) continue;
    auto it = values.find(op.inputs[1]);
    const auto* b = it == values.end() ? nullptr : std::get_if<Array<Exact>>(&it->second);
    if (!b) continue;
    if (auto ints = ExactArith::prepare_operand(b->data)) dot_operands.emplace(op.inputs[1], std::move(*ints));
  }
}

// In real numbers  ((x / c) + b) * c + (beta - mean * c)  is  x + (b * c + (beta - mean * c)):
// the literal chain's batchnorm uses alpha = c (conv_bn_pattern.h), so both give the same exact
// values, and the addend is computed here once with the very operations the literal chain runs.
// A chain whose constants are not all prepared, whose batchnorm does not fold, or whose addend is
// not exact (NumericError) stays literal.
template <class A>
void Prepared<A>::fuse_conv_bn_chains() {
  std::unordered_map<const ir::Op*, size_t> index;
  for (size_t i = 0; i < ops.size(); ++i) index[ops[i]] = i;
  auto prepared = [&](const ir::Value* v) -> const Array<Exact>* {
    auto it = values.find(v);
    return it == values.end() ? nullptr : std::get_if<Array<Exact>>(&it->second);
  };
  for (size_t i = 0; i < ops.size(); ++i) {
    const ir::Op& bn = *ops[i];
    const ConvBnChain* chain = bn.kind == ir::OpKind::batchnorm ? folds.chain_of(bn) : nullptr;
    if (!chain || constant[i]) continue;
    const Array<Exact>*scale = prepared(bn.inputs[1]), *beta = prepared(bn.inputs[2]), *mean = prepared(bn.inputs[3]),
                      *var = prepared(bn.inputs[4]);
    if (!scale || !beta || !mean || !var) continue;
    const ir::Shape& shape = bn.inputs[0]->type.shape;
    try {
      const auto c = folded_alpha(*chain->divisor, shape,
                                  batchnorm_alpha_f32(bn, doubles_of<ExactArith>(*scale), doubles_of<ExactArith>(*var)));
      if (!c) continue;
      const std::vector<double> b = chain->bias ? per_channel_values(*chain->bias, shape) : std::vector<double>(c->size(), 0.0);
      FusedChain f{chain->div->inputs[0], {}};
      for (size_t ch = 0; ch < c->size(); ++ch) {
        const Exact alpha = Exact::from_double((*c)[ch]);
        const Exact beta_literal = ExactArith::sub_mul(beta->data[ch], mean->data[ch], alpha);
        f.addend.push_back(ExactArith::mul_add(Exact::from_double(b[ch]), alpha, beta_literal));
      }
      // The div's input now lives until the batchnorm.
      last_use[f.source] = std::max(last_use.at(f.source), i);
      for (const ir::Op* skip : {chain->div, chain->add})
        if (skip) skipped[index.at(skip)] = true;
      fused.emplace(&bn, std::move(f));
    } catch (const NumericError&) {
      continue;
    }
  }
}

}  // namespace

struct QatEvaluator::Impl {
  using Variant = std::variant<Prepared<F32Arith>, Prepared<ExactArith>>;
  static Variant prepare(const ir::Graph& g, const QatOptions& options, bool observed) {
    switch (options.arithmetic) {
      case Arithmetic::float32: return Variant(std::in_place_index<0>, g, options, observed);
      case Arithmetic::exact: return Variant(std::in_place_index<1>, g, options, observed);
    }
    __builtin_unreachable();
  }
  Variant prepared;
  bool observed;
};

QatEvaluator::QatEvaluator(const ir::Graph& g, const QatOptions& options, bool observed)
    : impl_(std::make_shared<const Impl>(Impl{Impl::prepare(g, options, observed), observed})) {}

std::vector<ir::TensorData> QatEvaluator::run(const std::vector<ir::TensorData>& inputs, const QatObserver& observer) const {
  if (observer && !impl_->observed) throw std::logic_error("QatEvaluator::run(): an observer needs observed = true");
  return std::visit([&](const auto& p) {
    using A = typename std::decay_t<decltype(p)>::Arith;
    return Evaluation<A>(p, observer).run(inputs);
  }, impl_->prepared);
}

std::vector<ir::TensorData> evaluate_qat(const ir::Graph& g, const std::vector<ir::TensorData>& inputs,
                                         const QatOptions& options, const QatObserver& observer) {
  return QatEvaluator(g, options, static_cast<bool>(observer)).run(inputs, observer);
}

}  // namespace qatc::sim
