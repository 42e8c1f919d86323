// Package lang tells which language a text is in, as far as segstream's
// models need: Chinese when Han characters dominate, else English. The
// encoder routes texts by it and the sentiment models pick their model by it.
// It imports nothing of segstream.
package lang

import "unicode"

// Language codes Detect returns.
const (
	Chinese = "zh"
	English = "en"
)

// Detect says which model a text is for: "zh" when Han characters dominate,
// else "en". Dominate: at least as many Han characters as words in any other
// letters (a Han character is about a word), so a Chinese review with a brand
// name ("iPhone13很好用", "USB接口坏了") is "zh" and an English sentence with a
// Chinese name in it is "en". Kana and Hangul count as other words; digits,
// punctuation, symbols and emoji count for neither. A text with no letters is
// "en".
func Detect(text string) string {
	han, words := 0, 0
	inWord := false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
			inWord = false
		case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
			if !inWord {
				words++
				inWord = true
			}
		default:
			inWord = false
		}
	}
	if han > 0 && han >= words {
		return Chinese
	}
	return English
}

// Of is the language of a text that may carry a declared one: the declared
// code when set (its primary subtag, lower case: "zh-CN" is "zh"), else Detect.
func Of(text, declared string) string {
	if declared != "" {
		b := []byte(declared)
		n := 0
		for n < len(b) && b[n] != '-' && b[n] != '_' {
			if 'A' <= b[n] && b[n] <= 'Z' {
				b[n] += 'a' - 'A'
			}
			n++
		}
		if n > 0 {
			return string(b[:n])
		}
	}
	return Detect(text)
}
