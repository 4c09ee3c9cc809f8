#pragma once

#include "ringfile/buffer.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file.hpp"
#include "ringfile/file_stat.hpp"
#include "ringfile/result.hpp"
