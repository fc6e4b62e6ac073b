import { scanSql } from './sql-text';

describe('scanSql', () => {
  it('rewrites :name parameters to $n, the same name to the same number, in order of first use', () => {
    expect(scanSql('select :0, :1, :0 from t where a = :name')).toEqual({
      text: 'select $1, $2, $1 from t where a = $3',
      names: ['0', '1', 'name'],
      statements: 1,
    });
  });

  it('leaves casts, string literals, quoted identifiers, comments and dollar-quoted bodies alone', () => {
    const sql = `select :a::uuid, 'x :b', E'it\\'s :c', "col:d", $1 -- :e\n/* :f /* :g */ */ from t where $$ :h $$ = $tag$ ; :i $tag$`;
    const scanned = scanSql(sql);
    expect(scanned.names).toEqual(['a']);
    expect(scanned.text).toBe(sql.replace(':a::uuid', '$1::uuid'));
    expect(scanned.statements).toBe(1);
  });

  it('does not take := (named-argument notation) for a parameter', () => {
    expect(scanSql('select make_interval(secs := 1)').names).toEqual([]);
  });

  it('counts statements separated by top-level semicolons; a trailing semicolon or comment adds none', () => {
    expect(scanSql('select 1;').statements).toBe(1);
    expect(scanSql('select 1; -- done\n').statements).toBe(1);
    expect(scanSql("select ';'; select 2").statements).toBe(2);
    expect(scanSql('DO $$ BEGIN PERFORM 1; PERFORM 2; END $$').statements).toBe(1);
    expect(scanSql('').statements).toBe(0);
  });
});
