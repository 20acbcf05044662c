// Package keytest builds key presses the way the terminal sends them, for the tests of the
// console and its components.
package keytest

import tea "charm.land/bubbletea/v2"

// named are the keys that are not their own text.
var named = map[string]tea.KeyPressMsg{
	"enter":     {Code: tea.KeyEnter},
	"esc":       {Code: tea.KeyEscape},
	"tab":       {Code: tea.KeyTab},
	"backspace": {Code: tea.KeyBackspace},
	"up":        {Code: tea.KeyUp},
	"down":      {Code: tea.KeyDown},
	"left":      {Code: tea.KeyLeft},
	"ctrl+c":    {Code: 'c', Mod: tea.ModCtrl},
	"ctrl+u":    {Code: 'u', Mod: tea.ModCtrl},
}

// Press is the key named k ("enter", "ctrl+c", ...), or the printable key whose text is k.
func Press(k string) tea.KeyPressMsg {
	if m, ok := named[k]; ok {
		return m
	}
	return tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
}
