#include "ui/memory_planner.h"

#include <chrono>
#include <stdexcept>

#include "app/project/estimate_target.h"
#include "ui/project_session.h"

namespace latentcast::ui {

MemoryPlanner::MemoryPlanner(ProjectSession* session, QObject* parent)
    : QObject(parent), session_(session), devices_(detect_devices()) {
  device_ = project::target_device(devices_, "auto", {}, 0);
  connect(session_, &ProjectSession::config_changed, this, &MemoryPlanner::refresh);
  connect(session_, &ProjectSession::project_replaced, this, &MemoryPlanner::refresh);
  refresh();
}

void MemoryPlanner::set_preset(const QString& key) {
  if (key == preset_) return;
  device_ = project::target_device(devices_, "auto", key.toStdString(), 0);
  preset_ = key;
  refresh();
}

Availability MemoryPlanner::availability(AttentionBackend backend) const {
  const ModelConfig& m = session_->config().model;
  const int head_dim = m.channels.empty() ? 0 : m.channels.back() / std::max(1, m.heads);
  return backend_availability(backend, devices_, devices_.cuda_available, head_dim);
}

estimator::EstimateRequest MemoryPlanner::request_for(const ProjectConfig& config) const {
  return project::estimate_request(config, devices_, device_, !preset_.isEmpty(),
                                   project::data_size(session_->table(), config.dataset));
}

estimator::EstimateRequest MemoryPlanner::machine_request(const ProjectConfig& config) const {
  return project::estimate_request(config, devices_,
                                   project::target_device(devices_, "auto", {}, 0), false,
                                   project::data_size(session_->table(), config.dataset));
}

void MemoryPlanner::refresh() {
  const auto start = std::chrono::steady_clock::now();
  try {
    estimate_ = estimator::estimate(request_for(session_->config()));
    error_.clear();
  } catch (const std::exception& e) {
    estimate_ = {};
    error_ = QString::fromStdString(e.what());
  }
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Q_EMIT estimate_changed();
}

std::optional<estimator::Calibrated> MemoryPlanner::calibrated() const {
  if (!error_.isEmpty()) return std::nullopt;
  return estimator::calibrated(estimate_, session_->config().calibrations, device_.name);
}

estimator::Recommendation MemoryPlanner::recommend(std::int64_t capacity) const {
  estimator::EstimateRequest request = request_for(session_->config());
  if (capacity > 0) request.device.capacity_bytes = capacity;
  if (request.device.capacity_bytes <= 0) return {};
  return estimator::recommend(request);
}

}  // namespace latentcast::ui
