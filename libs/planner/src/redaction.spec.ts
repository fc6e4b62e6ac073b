import { redactPii } from './redaction';

describe('redactPii', () => {
  it.each([
    ['write to ada.lovelace@example.com today', 'write to [redacted:email] today'],
    ['mail bob.smith+groceries@mail.example.co.uk, thanks', 'mail [redacted:email], thanks'],
    ['Contact: X_Y-Z%1@sub.domain.org.', 'Contact: [redacted:email].'],
  ])('replaces the email address in %p', (input, expected) => {
    expect(redactPii(input)).toEqual({ text: expected, redactions: ['email'] });
  });

  it.each([
    ['my card is 4111 1111 1111 1111 ok', 'my card is [redacted:card] ok'],
    ['card 4111-1111-1111-1111', 'card [redacted:card]'],
    ['pay with 5500005555555559 please', 'pay with [redacted:card] please'],
    ['amex 3782 822463 10005', 'amex [redacted:card]'],
  ])('replaces the card number in %p', (input, expected) => {
    expect(redactPii(input)).toEqual({ text: expected, redactions: ['card'] });
  });

  it.each([
    ['call me at 555-123-4567', 'call me at [redacted:phone]'],
    ['ring (555) 123-4567 after lunch', 'ring [redacted:phone] after lunch'],
    ['her number is +1 555 123 4567.', 'her number is [redacted:phone].'],
    ['try 555.123.4567', 'try [redacted:phone]'],
    ['text 5551234567 now', 'text [redacted:phone] now'],
    ['London office 020 7946 0958', 'London office [redacted:phone]'],
    ['mobile 07700 900123', 'mobile [redacted:phone]'],
    ['abroad: +44 7700 900123', 'abroad: [redacted:phone]'],
  ])('replaces the whole phone number in %p, leaving none of its digits behind', (input, expected) => {
    const result = redactPii(input);
    expect(result).toEqual({ text: expected, redactions: ['phone'] });
  });

  it('redacts several kinds in one text and lists each redaction', () => {
    const result = redactPii('email sam@example.com or call 555-123-4567 or 555-987-6543; card 4111 1111 1111 1111');
    expect(result.text).toBe(
      'email [redacted:email] or call [redacted:phone] or [redacted:phone]; card [redacted:card]',
    );
    expect([...result.redactions].sort()).toEqual(['card', 'email', 'phone', 'phone']);
    expect(result.text).not.toMatch(/\d{3}/);
  });

  it.each([
    'meet me at 10:30 or 14:45',
    'the train leaves at 9.30',
    'see you at 7pm on 2024-05-12',
    'started 2024-05-12T10:30:00Z',
    'born in 1999, moved in 2024',
    'between 1990 and 2000',
    'the 2023-2024 season',
    'from 2019 2020 onwards',
    'room 101, 12 apples, 3 kids',
    'the code is 123456',
    'it costs $1,234.56',
    'on 12/05/2024',
    'pi is about 3.14',
  ])('keeps times, dates, years and short numbers: %p', (input) => {
    expect(redactPii(input)).toEqual({ text: input, redactions: [] });
  });

  it('leaves text without personal data untouched', () => {
    expect(redactPii('tell Sam the package arrived')).toEqual({ text: 'tell Sam the package arrived', redactions: [] });
  });

  it('gives the same result when run twice (a redacted text has nothing left to redact)', () => {
    const once = redactPii('call 555-123-4567 or mail a@b.co');
    expect(redactPii(once.text)).toEqual({ text: once.text, redactions: [] });
  });
});
