// Precompiled header for translation units that use LibTorch (never include from a public header).
#pragma once
#include <torch/torch.h>
