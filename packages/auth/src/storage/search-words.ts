// The words of a text as SQLite's FTS5 (tokenizer unicode61, the default)
// sees them: runs of letters, digits and private-use characters, folded to
// lower case, with diacritics removed; everything else separates words.
// The PostgreSQL engine keeps each searchable text as these words, one space
// apart, and finds an FTS5 phrase ("rm -rf" is the words rm, rf in a row) as
// the substring " rm rf ", so the same query finds the same events on both.
const NOT_A_WORD = /[^\p{L}\p{N}\p{Co}]+/u;
const MARKS = /\p{M}/gu;

export function searchWords(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFD')
    .replace(MARKS, '')
    .split(NOT_A_WORD)
    .filter(Boolean);
}

/** A text as stored for search: its words between single spaces, with one before and after. */
export function searchDocument(text: string): string {
  const words = searchWords(text);
  return words.length ? ` ${words.join(' ')} ` : '';
}

/**
 * The LIKE pattern that finds `text` as a phrase in a search document, or
 * undefined when it has no words (FTS5 then matches nothing). Words hold no
 * LIKE wildcard: those are separators.
 */
export function phrasePattern(text: string): string | undefined {
  const document = searchDocument(text);
  return document ? `%${document}%` : undefined;
}

/**
 * Longest word (in code points, as PostgreSQL's length() counts them) kept
 * in the PostgreSQL engine's word index: a GIN key must fit in a third of a
 * page, whatever a hostile event holds.
 */
export const MAX_INDEXED_WORD = 200;

/** The distinct words of a text that the word index keeps. */
export function indexedWords(text: string): string[] {
  return [...new Set(searchWords(text))].filter((w) => [...w].length <= MAX_INDEXED_WORD);
}
