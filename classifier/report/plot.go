package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"

	"github.com/segstream/segstream/classifier/metrics"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one named curve of a line chart.
type Series struct {
	Name   string
	Points []metrics.ROCPoint
	Dashed bool
}

var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

type canvas struct {
	img                    *image.RGBA
	x0, y0, x1, y1         int // plot area in pixels
	xmin, xmax, ymin, ymax float64
}

func newCanvas(w, h int, xmin, xmax, ymin, ymax float64) *canvas {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	return &canvas{img: img, x0: 60, y0: 44, x1: w - 20, y1: h - 50, xmin: xmin, xmax: xmax, ymin: ymin, ymax: ymax}
}

func (c *canvas) px(x, y float64) (int, int) {
	fx := float64(c.x0) + (x-c.xmin)/(c.xmax-c.xmin)*float64(c.x1-c.x0)
	fy := float64(c.y1) - (y-c.ymin)/(c.ymax-c.ymin)*float64(c.y1-c.y0)
	return int(math.Round(fx)), int(math.Round(fy))
}

func (c *canvas) dot(x, y int, col color.Color, r int) {
	for dx := -r; dx <= r; dx++ {
		for dy := -r; dy <= r; dy++ {
			c.img.Set(x+dx, y+dy, col)
		}
	}
}

// line draws a segment in pixels (thick 2px), dashed when asked.
func (c *canvas) line(ax, ay, bx, by int, col color.Color, dashed bool, thick int) {
	dx, dy := bx-ax, by-ay
	steps := max(abs(dx), abs(dy), 1)
	for i := 0; i <= steps; i++ {
		if dashed && (i/6)%2 == 1 {
			continue
		}
		x := ax + dx*i/steps
		y := ay + dy*i/steps
		c.dot(x, y, col, thick/2)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (c *canvas) text(x, y int, s string, col color.Color) {
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func textWidth(s string) int { return 7 * len(s) }

func (c *canvas) axes(title, xl, yl string) {
	grey := color.RGBA{220, 220, 220, 255}
	black := color.RGBA{0, 0, 0, 255}
	for i := 0; i <= 5; i++ {
		t := float64(i) / 5
		xv := c.xmin + t*(c.xmax-c.xmin)
		yv := c.ymin + t*(c.ymax-c.ymin)
		x, _ := c.px(xv, c.ymin)
		_, y := c.px(c.xmin, yv)
		c.line(x, c.y0, x, c.y1, grey, false, 1)
		c.line(c.x0, y, c.x1, y, grey, false, 1)
		lx := fmt.Sprintf("%.1f", xv)
		c.text(x-textWidth(lx)/2, c.y1+15, lx, black)
		ly := fmt.Sprintf("%.1f", yv)
		c.text(c.x0-textWidth(ly)-5, y+4, ly, black)
	}
	c.line(c.x0, c.y1, c.x1, c.y1, black, false, 1)
	c.line(c.x0, c.y0, c.x0, c.y1, black, false, 1)
	w := c.img.Bounds().Dx()
	c.text(w/2-textWidth(title)/2, 16, title, black)
	c.text((c.x0+c.x1)/2-textWidth(xl)/2, c.y1+35, xl, black)
	c.text(4, c.y0-6, yl, black)
}

// LineChart renders series as a PNG; diag adds the y=x reference line.
func LineChart(title, xl, yl string, series []Series, diag bool) ([]byte, error) {
	c := newCanvas(640, 480, 0, 1, 0, 1)
	c.axes(title, xl, yl)
	if diag {
		ax, ay := c.px(0, 0)
		bx, by := c.px(1, 1)
		c.line(ax, ay, bx, by, color.RGBA{150, 150, 150, 255}, true, 1)
	}
	legendW := 0
	for _, s := range series {
		legendW = max(legendW, textWidth(s.Name))
	}
	for i, s := range series {
		col := palette[i%len(palette)]
		for j := 1; j < len(s.Points); j++ {
			ax, ay := c.px(s.Points[j-1].X, s.Points[j-1].Y)
			bx, by := c.px(s.Points[j].X, s.Points[j].Y)
			c.line(ax, ay, bx, by, col, s.Dashed, 2)
		}
		if len(s.Points) == 1 {
			x, y := c.px(s.Points[0].X, s.Points[0].Y)
			c.dot(x, y, col, 3)
		}
		// legend, bottom right
		ly := c.y1 - 12 - 16*(len(series)-1-i)
		lx := max(c.x1-36-legendW, c.x0+10)
		c.line(lx, ly-4, lx+20, ly-4, col, s.Dashed, 2)
		c.text(lx+26, ly, s.Name, color.RGBA{0, 0, 0, 255})
	}
	return encodePNG(c.img)
}

// ConfusionGrid renders confusion matrices side by side as a PNG heat map
// (rows: true class, columns: predicted; shade by row share).
func ConfusionGrid(title string, names []string, mats [][][]int, classes []string) ([]byte, error) {
	k := len(classes)
	cell := 52
	pw := 80 + k*cell
	cols := min(len(mats), 4)
	rows := (len(mats) + cols - 1) / cols
	w := 20 + cols*(pw+30)
	h := 40 + rows*(k*cell+80)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	c := &canvas{img: img}
	black := color.RGBA{0, 0, 0, 255}
	c.text(w/2-textWidth(title)/2, 18, title, black)
	for m, mat := range mats {
		ox := 20 + (m%cols)*(pw+30) + 70
		oy := 40 + (m/cols)*(k*cell+80) + 30
		c.text(ox-60, oy-14, names[m], black)
		for i := 0; i < k; i++ {
			var rs int
			for j := 0; j < k; j++ {
				rs += mat[i][j]
			}
			c.text(ox-64, oy+i*cell+cell/2+4, "T:"+classes[i], black)
			for j := 0; j < k; j++ {
				share := 0.0
				if rs > 0 {
					share = float64(mat[i][j]) / float64(rs)
				}
				v := uint8(255 - 200*share)
				col := color.RGBA{v, v, 255, 255}
				draw.Draw(img, image.Rect(ox+j*cell, oy+i*cell, ox+(j+1)*cell-2, oy+(i+1)*cell-2), image.NewUniform(col), image.Point{}, draw.Src)
				s := fmt.Sprint(mat[i][j])
				tc := black
				if share > 0.6 {
					tc = color.RGBA{255, 255, 255, 255}
				}
				c.text(ox+j*cell+cell/2-textWidth(s)/2, oy+i*cell+cell/2+4, s, tc)
			}
		}
		for j := 0; j < k; j++ {
			s := "P:" + classes[j]
			if len(s) > 7 {
				s = s[:7]
			}
			c.text(ox+j*cell+cell/2-textWidth(s)/2, oy+k*cell+14, s, black)
		}
	}
	return encodePNG(img)
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
