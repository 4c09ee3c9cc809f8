#pragma once

#include "ringfile/buffer.hpp"
#include "ringfile/dir.hpp"
#include "ringfile/engine.hpp"
#include "ringfile/export.hpp"
#include "ringfile/file.hpp"
#include "ringfile/file_stat.hpp"
#include "ringfile/fs.hpp"
#include "ringfile/result.hpp"
#include "ringfile/stream.hpp"
#include "ringfile/task.hpp"
#include "ringfile/temp_file.hpp"
#include "ringfile/whole_file.hpp"
