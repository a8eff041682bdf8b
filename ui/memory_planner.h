// The live VRAM estimate of the open project, shared by the panels: the device planned for (this
// machine or a preset GPU), the estimate of the current settings (recomputed on every change, in
// well under a millisecond), the calibration of a measured run, and the estimator's
// recommendations. Torch-free: it calls estimator/ and the torch-free device and availability
// checks.
#pragma once

#include <QObject>
#include <QString>
#include <optional>

#include "estimator/estimate.h"
#include "model/attention/availability.h"
#include "model/device.h"

namespace latentcast::ui {

class ProjectSession;

class MemoryPlanner : public QObject {
  Q_OBJECT

 public:
  explicit MemoryPlanner(ProjectSession* session, QObject* parent = nullptr);

  const DeviceReport& devices() const { return devices_; }
  // The GPU preset planned for ("24gb"), or empty for this machine (its GPU, else the CPU).
  const QString& preset() const { return preset_; }
  void set_preset(const QString& key);
  const estimator::DeviceSpec& device() const { return device_; }

  // Whether a backend can run where training would run (this machine), with the reason if not: the
  // check `latentcast-cli backends` prints.
  Availability availability(AttentionBackend backend) const;

  // The estimate of the current settings; empty error when it succeeded.
  const estimator::Estimate& estimate() const { return estimate_; }
  const QString& error() const { return error_; }
  double estimate_seconds() const { return seconds_; }  // how long the last estimate took
  std::optional<estimator::Calibrated> calibrated() const;

  estimator::EstimateRequest request_for(const ProjectConfig& config) const;
  // The same for this machine whatever the preset: what a measurement here is compared with.
  estimator::EstimateRequest machine_request(const ProjectConfig& config) const;
  // For `capacity` bytes (0: the device's own capacity).
  estimator::Recommendation recommend(std::int64_t capacity = 0) const;

 Q_SIGNALS:
  void estimate_changed();

 private:
  void refresh();

  ProjectSession* session_;
  DeviceReport devices_;
  QString preset_;
  estimator::DeviceSpec device_;
  estimator::Estimate estimate_;
  QString error_;
  double seconds_ = 0;
};

}  // namespace latentcast::ui
