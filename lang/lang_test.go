package lang

import "testing"

func TestDetect(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"非常好，物流很快。", "zh"},
		{"質量很好，繁體字也可以", "zh"},
		{"iPhone13很好用", "zh"},
		{"USB接口坏了", "zh"},
		{"买了3个，都是good quality", "zh"}, // 5 Han, 2 words
		{"华为P40 Pro质量不错", "zh"},
		{"Great product, fast delivery!", "en"},
		{"I bought the 中国 tea set for my mother", "en"},
		{"Café crème brûlée", "en"},
		{"日本語のレビュー", "zh"}, // kanji (Han) 3, kana words 2: the Chinese model reads kanji
		{"한국어 리뷰 정말 좋아요", "en"},
		{"😀😀😀", "en"},
		{"12345 !!!", "en"},
		{"", "en"},
		{"好", "zh"},
		{"ok 好", "zh"},
		{"ok ok 好", "en"},
	} {
		if got := Detect(tc.text); got != tc.want {
			t.Errorf("Detect(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestOfPrefersTheDeclaredLanguage(t *testing.T) {
	for _, tc := range []struct{ text, declared, want string }{
		{"非常好", "", "zh"},
		{"great", "", "en"},
		{"great", "zh-CN", "zh"},
		{"非常好", "EN", "en"},
		{"非常好", "zh_Hant", "zh"},
		{"bien", "fr", "fr"},
		{"非常好", "-", "zh"},
	} {
		if got := Of(tc.text, tc.declared); got != tc.want {
			t.Errorf("Of(%q, %q) = %q, want %q", tc.text, tc.declared, got, tc.want)
		}
	}
}
