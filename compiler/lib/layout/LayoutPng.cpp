//===- LayoutPng.cpp - A picture of a layout (libpng) ---------------------===//
#include "attnc/layout/Layout.h"

#include <png.h>

#include <cstdio>
#include <memory>

namespace attnc::layout {
namespace {

struct Rgb {
  uint8_t r, g, b;
};

constexpr Rgb kBackground{255, 255, 255};
constexpr Rgb kFull{31, 119, 180};    // blue
constexpr Rgb kPartial{255, 127, 14}; // orange
constexpr Rgb kEmpty{232, 232, 232};  // light gray
constexpr int64_t kPanelPixels = 512; // a panel's longer side, roughly
constexpr int64_t kGap = 16;
constexpr int64_t kPanelsPerRow = 4;

/// An RGB canvas with panels laid out in a grid.
struct Canvas {
  int64_t width, height;
  std::vector<uint8_t> pixels;

  Canvas(int64_t w, int64_t h) : width(w), height(h), pixels(w * h * 3) {
    for (int64_t k = 0; k < w * h; ++k)
      set(k % w, k / w, kBackground);
  }
  void set(int64_t x, int64_t y, Rgb c) {
    uint8_t *p = &pixels[(y * width + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
};

llvm::Error error(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", message.c_str());
}

llvm::Error encode(const Canvas &canvas, const std::string &path) {
  std::unique_ptr<FILE, int (*)(FILE *)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file)
    return error("cannot write '" + path + "'");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return error("libpng could not start");
  }
  // libpng reports failures by longjmp; nothing with a destructor lives
  // between here and the end of this function's libpng calls.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return error("libpng failed while writing '" + path + "'");
  }
  png_init_io(png, file.get());
  png_set_IHDR(png, info, canvas.width, canvas.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t y = 0; y < canvas.height; ++y)
    png_write_row(png, const_cast<uint8_t *>(&canvas.pixels[y * canvas.width * 3]));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return llvm::Error::success();
}

} // namespace

llvm::Error writePng(const Layout &layout, const std::string &path) {
  std::vector<std::vector<int64_t>> groups = layout.headGroups();
  int64_t cell = std::max<int64_t>(1, std::min<int64_t>(32, kPanelPixels /
                                                             std::max(layout.rows, layout.cols)));
  int64_t panelW = layout.cols * cell, panelH = layout.rows * cell;
  int64_t across = std::min<int64_t>(kPanelsPerRow, groups.size());
  int64_t down = (groups.size() + across - 1) / across;
  if ((panelW + kGap) * across > 32768 || (panelH + kGap) * down > 32768)
    return error("the layout is too large for a picture; use --format text or json");
  Canvas canvas(kGap + across * (panelW + kGap), kGap + down * (panelH + kGap));
  for (size_t g = 0; g < groups.size(); ++g) {
    int64_t x0 = kGap + (g % across) * (panelW + kGap);
    int64_t y0 = kGap + (g / across) * (panelH + kGap);
    for (int64_t row = 0; row < layout.rows; ++row)
      for (int64_t col = 0; col < layout.cols; ++col) {
        TileKind kind = layout.at(groups[g].front(), row, col);
        Rgb color = kind == TileKind::Full ? kFull : kind == TileKind::Partial ? kPartial : kEmpty;
        // A one-pixel seam between cells keeps tiles countable when cells are large.
        int64_t seam = cell >= 4 ? 1 : 0;
        for (int64_t dy = 0; dy < cell - seam; ++dy)
          for (int64_t dx = 0; dx < cell - seam; ++dx)
            canvas.set(x0 + col * cell + dx, y0 + row * cell + dy, color);
      }
  }
  return encode(canvas, path);
}

} // namespace attnc::layout
