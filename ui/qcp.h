// QCustomPlot's header uses Qt's lower-case keywords (signals, slots, emit, foreach), which this
// project turns off (QT_NO_KEYWORDS, for LibTorch). Include it only through this header, which maps
// them to the Q_ macros for the duration of the include.
#pragma once

#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
