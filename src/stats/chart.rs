//! The `/stats` chart: subscribers (a line) and deliveries (stacked bars) per day, drawn into
//! an indexed-colour bitmap and encoded as PNG. No fonts or graphics libraries: a small
//! rasteriser and the embedded 5×7 font are enough for a labelled chart, and keep the
//! dependency tree to the `png` encoder. The labels are English capitals (the font has no
//! Cyrillic or Azerbaijani letters); the caption sent with the chart explains it in the
//! operator's language.

use super::font::{GLYPH_H, GLYPH_W, glyph};

/// The chart's size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 480;

/// The numbers for one day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChartDay {
    /// Shown under the bars, e.g. "11-25". Capital Latin letters, digits and `-:./(),`.
    pub label: String,
    /// Subscribers that day (`None` before the history starts).
    pub subscribers: Option<u64>,
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
}

/// What to draw: a title and the days, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chart {
    pub title: String,
    pub days: Vec<ChartDay>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot encode the chart as PNG: {0}")]
    Encode(#[from] png::EncodingError),
}

const WHITE: u8 = 0;
const BLACK: u8 = 1;
const GRID: u8 = 2;
const BLUE: u8 = 3;
const GREEN: u8 = 4;
const RED: u8 = 5;
const ORANGE: u8 = 6;
const PALETTE: [[u8; 3]; 7] = [
    [255, 255, 255],
    [30, 30, 30],
    [215, 215, 215],
    [33, 102, 172],
    [46, 139, 87],
    [214, 39, 40],
    [240, 150, 30],
];

/// Text is drawn at twice the font's size: 10×14 pixels a character.
const SCALE: u32 = 2;
const CHAR_W: u32 = (GLYPH_W + 1) * SCALE;
const PLOT_LEFT: u32 = 100;
const PLOT_RIGHT: u32 = WIDTH - 20;
const SUBS_TOP: u32 = 80;
const SUBS_BOTTOM: u32 = 215;
const BARS_TOP: u32 = 255;
const BARS_BOTTOM: u32 = 420;

/// Draws the chart and returns PNG bytes.
pub fn render_png(chart: &Chart) -> Result<Vec<u8>, ChartError> {
    let mut canvas = Canvas::new(WIDTH, HEIGHT);
    canvas.text(20, 14, &chart.title, BLACK);
    let mut x = 20;
    for (colour, name) in
        [(BLUE, "SUBSCRIBERS"), (GREEN, "SENT"), (RED, "FAILED"), (ORANGE, "RETRIED")]
    {
        canvas.rect(x, 46, 14, 14, colour);
        canvas.text(x + 20, 46, name, BLACK);
        x += 20 + CHAR_W * name.len() as u32 + 24;
    }

    let n = chart.days.len().max(1) as u32;
    let slot = (PLOT_RIGHT - PLOT_LEFT) / n;
    let centre = |i: usize| PLOT_LEFT + slot * i as u32 + slot / 2;

    // Subscribers: a line through the days that have a snapshot.
    let subs_max = nice(chart.days.iter().filter_map(|d| d.subscribers).max().unwrap_or(0));
    canvas.axis(SUBS_TOP, SUBS_BOTTOM, subs_max);
    let y_of = |v: u64, top: u32, bottom: u32, max: u64| {
        bottom - ((u128::from(v) * u128::from(bottom - top)) / u128::from(max)) as u32
    };
    let mut previous: Option<(u32, u32)> = None;
    for (i, day) in chart.days.iter().enumerate() {
        let Some(v) = day.subscribers else {
            previous = None;
            continue;
        };
        let point = (centre(i), y_of(v, SUBS_TOP, SUBS_BOTTOM, subs_max));
        if let Some(from) = previous {
            canvas.line(from, point, BLUE);
        }
        canvas.rect(point.0 - 2, point.1 - 2, 5, 5, BLUE);
        previous = Some(point);
    }

    // Deliveries: stacked bars, sent at the bottom.
    let bars_max =
        nice(chart.days.iter().map(|d| d.sent + d.failed + d.retried).max().unwrap_or(0));
    canvas.axis(BARS_TOP, BARS_BOTTOM, bars_max);
    let width = (slot * 7 / 10).max(1);
    for (i, day) in chart.days.iter().enumerate() {
        let left = centre(i) - width / 2;
        let mut total = 0;
        for (value, colour) in [(day.sent, GREEN), (day.failed, RED), (day.retried, ORANGE)] {
            let bottom = y_of(total, BARS_TOP, BARS_BOTTOM, bars_max);
            total += value;
            let top = y_of(total, BARS_TOP, BARS_BOTTOM, bars_max);
            if bottom > top {
                canvas.rect(left, top, width, bottom - top, colour);
            }
        }
    }

    // Day labels: as many as fit without touching.
    let label_w = chart.days.iter().map(|d| d.label.chars().count() as u32).max().unwrap_or(0)
        * CHAR_W
        + CHAR_W;
    let every = label_w.div_ceil(slot.max(1)).max(1) as usize;
    for (i, day) in chart.days.iter().enumerate().rev().step_by(every) {
        let w = day.label.chars().count() as u32 * CHAR_W;
        let x = (centre(i).saturating_sub(w / 2)).min(WIDTH - w);
        canvas.rect(centre(i), BARS_BOTTOM, 1, 5, BLACK);
        canvas.text(x, BARS_BOTTOM + 12, &day.label, BLACK);
    }
    canvas.encode()
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `v` (at least 1): round axis maxima.
fn nice(v: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if let Some(candidate) = step.checked_mul(m)
                && candidate >= v
            {
                return candidate;
            }
        }
        match step.checked_mul(10) {
            Some(next) => step = next,
            None => return u64::MAX,
        }
    }
}

/// One byte per pixel, an index into [`PALETTE`].
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32) -> Canvas {
        Canvas { width, height, pixels: vec![WHITE; (width * height) as usize] }
    }

    fn set(&mut self, x: u32, y: u32, colour: u8) {
        if x < self.width && y < self.height {
            self.pixels[(y * self.width + x) as usize] = colour;
        }
    }

    fn rect(&mut self, x: u32, y: u32, w: u32, h: u32, colour: u8) {
        for yy in y..y.saturating_add(h).min(self.height) {
            for xx in x..x.saturating_add(w).min(self.width) {
                self.set(xx, yy, colour);
            }
        }
    }

    /// A line two pixels thick (Bresenham).
    fn line(&mut self, (x0, y0): (u32, u32), (x1, y1): (u32, u32), colour: u8) {
        let (mut x, mut y) = (i64::from(x0), i64::from(y0));
        let (x1, y1) = (i64::from(x1), i64::from(y1));
        let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
        let (sx, sy) = (if x < x1 { 1 } else { -1 }, if y < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.rect(x as u32, y as u32, 2, 2, colour);
            if x == x1 && y == y1 {
                return;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    fn text(&mut self, x: u32, y: u32, text: &str, colour: u8) {
        for (i, c) in text.chars().enumerate() {
            let left = x + i as u32 * CHAR_W;
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..GLYPH_W {
                    if bits & (1 << (GLYPH_W - 1 - col)) != 0 {
                        self.rect(left + col * SCALE, y + row as u32 * SCALE, SCALE, SCALE, colour);
                    }
                }
            }
        }
    }

    /// A panel's frame: grid lines at 0, half and `max`, labelled on the left.
    fn axis(&mut self, top: u32, bottom: u32, max: u64) {
        let middle = (top + bottom) / 2;
        for (y, value) in [(top, max), (middle, max / 2), (bottom, 0)] {
            self.rect(PLOT_LEFT, y, PLOT_RIGHT - PLOT_LEFT, 1, GRID);
            let label = value.to_string();
            let w = label.len() as u32 * CHAR_W;
            self.text(
                PLOT_LEFT.saturating_sub(w + 8),
                y.saturating_sub(GLYPH_H * SCALE / 2),
                &label,
                BLACK,
            );
        }
        self.rect(PLOT_LEFT, top, 1, bottom - top + 1, BLACK);
        self.rect(PLOT_LEFT, bottom, PLOT_RIGHT - PLOT_LEFT, 1, BLACK);
    }

    fn encode(&self) -> Result<Vec<u8>, ChartError> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(PALETTE.concat());
        encoder.set_compression(png::Compression::Balanced);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(sent: u64) -> Chart {
        let days = (0..30)
            .map(|i| ChartDay {
                label: format!("11-{:02}", i + 1),
                subscribers: (i >= 10).then_some(100 + i),
                sent: sent + i,
                failed: i % 3,
                retried: i % 5,
            })
            .collect();
        Chart { title: "TRIBUNE: LAST 30 DAYS (UTC)".into(), days }
    }

    fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut buf).expect("an image");
        (info, buf)
    }

    #[test]
    fn the_chart_is_a_png_of_the_expected_size() {
        let bytes = render_png(&chart(50)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let (info, _) = decode(&bytes);
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        assert!(bytes.len() < 100_000, "{} bytes", bytes.len());
    }

    #[test]
    fn the_picture_follows_the_data() {
        let a = render_png(&chart(50)).unwrap();
        let b = render_png(&chart(500)).unwrap();
        assert_ne!(decode(&a).1, decode(&b).1);
        assert_eq!(a, render_png(&chart(50)).unwrap(), "the same data draws the same picture");
    }

    #[test]
    fn bars_are_drawn_in_their_colours() {
        let (_, pixels) = decode(&render_png(&chart(50)).unwrap());
        let has = |rgb: [u8; 3]| pixels.chunks(3).any(|p| p == rgb);
        assert!(has(PALETTE[GREEN as usize]) && has(PALETTE[RED as usize]));
        assert!(has(PALETTE[BLUE as usize]));
        // Below the legend, green only comes from bars.
        let plot = |pixels: &[u8]| pixels[(BARS_TOP * WIDTH * 3) as usize..].to_vec();
        let has_bars = |pixels: &[u8]| plot(pixels).chunks(3).any(|p| p == PALETTE[GREEN as usize]);
        assert!(has_bars(&pixels));
        let empty = Chart { title: String::new(), days: Vec::new() };
        assert!(!has_bars(&decode(&render_png(&empty).unwrap()).1));
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!([0, 1, 3, 7, 20, 21, 999].map(nice), [1, 1, 5, 10, 20, 50, 1000]);
        assert_eq!(nice(u64::MAX), u64::MAX);
    }
}
