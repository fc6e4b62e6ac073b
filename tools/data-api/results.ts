import { DataApiError } from './errors';
import type { RawField, RawResult, Session } from './backends';

/** The Field union of the Data API: exactly one member is set. */
export type Field =
  | { isNull: true }
  | { booleanValue: boolean }
  | { longValue: number }
  | { doubleValue: number }
  | { stringValue: string }
  | { blobValue: string } // base64 on the wire
  | { arrayValue: ArrayValue };

export type ArrayValue =
  | { booleanValues: boolean[] }
  | { longValues: number[] }
  | { doubleValues: number[] }
  | { stringValues: string[] }
  | { arrayValues: ArrayValue[] };

export interface ColumnMetadata {
  name: string;
  label: string;
  typeName: string;
  type: number;
  nullable: number;
  isAutoIncrement: boolean;
  isCaseSensitive: boolean;
  isCurrency: boolean;
  isSigned: boolean;
  precision: number;
  scale: number;
  schemaName: string;
  tableName: string;
  arrayBaseColumnType: number;
}

export interface ResultSetOptions {
  decimalReturnType?: 'STRING' | 'DOUBLE_OR_LONG';
  longReturnType?: 'STRING' | 'LONG';
}

interface TypeInfo {
  typname: string;
  category: string; // pg_type.typcategory
  elem: number; // element type of an array type, else 0
}

interface ColumnInfo {
  notNull: boolean;
  autoIncrement: boolean;
}

/** java.sql.Types codes, as PostgreSQL's JDBC driver reports them (the Data API's columnMetadata.type). */
const JDBC = {
  BIT: -7,
  SMALLINT: 5,
  INTEGER: 4,
  BIGINT: -5,
  REAL: 7,
  DOUBLE: 8,
  NUMERIC: 2,
  CHAR: 1,
  VARCHAR: 12,
  DATE: 91,
  TIME: 92,
  TIMESTAMP: 93,
  BINARY: -2,
  OTHER: 1111,
  ARRAY: 2003,
  SQLXML: 2009,
} as const;

const LONG_TYPES = new Set(['int2', 'int4', 'int8', 'oid']);
const DOUBLE_TYPES = new Set(['float4', 'float8']);
const NOT_CASE_SENSITIVE = new Set([
  'oid',
  'int2',
  'int4',
  'int8',
  'float4',
  'float8',
  'numeric',
  'bool',
  'bit',
  'varbit',
  'date',
  'time',
  'timetz',
  'timestamp',
  'timestamptz',
  'interval',
]);
const SIGNED = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'money']);

function jdbcType(typname: string, category: string): number {
  switch (typname) {
    case 'bool':
    case 'bit':
      return JDBC.BIT;
    case 'int2':
      return JDBC.SMALLINT;
    case 'int4':
      return JDBC.INTEGER;
    case 'int8':
    case 'oid':
      return JDBC.BIGINT;
    case 'float4':
      return JDBC.REAL;
    case 'float8':
    case 'money':
      return JDBC.DOUBLE;
    case 'numeric':
      return JDBC.NUMERIC;
    case 'char':
    case 'bpchar':
      return JDBC.CHAR;
    case 'varchar':
    case 'text':
    case 'name':
      return JDBC.VARCHAR;
    case 'date':
      return JDBC.DATE;
    case 'time':
    case 'timetz':
      return JDBC.TIME;
    case 'timestamp':
    case 'timestamptz':
      return JDBC.TIMESTAMP;
    case 'bytea':
      return JDBC.BINARY;
    case 'xml':
      return JDBC.SQLXML;
    default:
      return category === 'A' ? JDBC.ARRAY : JDBC.OTHER;
  }
}

/** Type names, nullability and identity of result columns, read from the catalog once and cached. */
export class Catalog {
  private readonly types = new Map<number, TypeInfo>();
  private readonly columns = new Map<string, ColumnInfo>();

  /** Loads what `fields` need and is not cached yet, on the session that produced them. */
  async prepare(session: Session, fields: readonly RawField[]): Promise<void> {
    const missingTypes = [...new Set(fields.map((f) => f.dataTypeID).filter((oid) => !this.types.has(oid)))];
    if (missingTypes.length > 0) {
      await this.loadTypes(session, missingTypes);
    }
    const elems = [
      ...new Set(
        missingTypes.map((oid) => this.types.get(oid)?.elem ?? 0).filter((oid) => oid !== 0 && !this.types.has(oid)),
      ),
    ];
    if (elems.length > 0) {
      await this.loadTypes(session, elems);
    }
    const missingColumns = fields.filter((f) => f.tableID !== 0 && !this.columns.has(`${f.tableID}.${f.columnID}`));
    if (missingColumns.length > 0) {
      const result = await session.query(
        `SELECT a.attrelid::text, a.attnum::text, a.attnotnull::text,
                (a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE '%nextval(%', false))::text
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE (a.attrelid, a.attnum) IN (SELECT * FROM unnest($1::oid[], $2::int2[]))`,
        [25, 25],
        [`{${missingColumns.map((f) => f.tableID).join(',')}}`, `{${missingColumns.map((f) => f.columnID).join(',')}}`],
      );
      for (const [rel, num, notNull, auto] of result.rows) {
        this.columns.set(`${rel ?? ''}.${num ?? ''}`, { notNull: notNull === 'true', autoIncrement: auto === 'true' });
      }
    }
  }

  private async loadTypes(session: Session, oids: readonly number[]): Promise<void> {
    const result = await session.query(
      'SELECT oid::text, typname::text, typcategory::text, typelem::text FROM pg_type WHERE oid = ANY($1::oid[])',
      [25],
      [`{${oids.join(',')}}`],
    );
    for (const [oid, typname, category, elem] of result.rows) {
      this.types.set(Number(oid), { typname: typname ?? '', category: category ?? '', elem: Number(elem) });
    }
  }

  type(oid: number): TypeInfo {
    return this.types.get(oid) ?? { typname: 'unknown', category: 'X', elem: 0 };
  }

  column(field: RawField): ColumnInfo | undefined {
    return field.tableID === 0 ? undefined : this.columns.get(`${field.tableID}.${field.columnID}`);
  }

  metadata(field: RawField): ColumnMetadata {
    const type = this.type(field.dataTypeID);
    const column = this.column(field);
    const autoIncrement = column?.autoIncrement ?? false;
    // The JDBC driver names auto-incrementing integer columns after their serial pseudo-types.
    const typeName =
      autoIncrement && type.typname === 'int4'
        ? 'serial'
        : autoIncrement && type.typname === 'int8'
          ? 'bigserial'
          : type.typname;
    const elem = type.category === 'A' ? this.type(type.elem) : undefined;
    const { precision, scale } = precisionAndScale(type.typname, field.dataTypeModifier);
    return {
      name: field.name,
      label: field.name,
      typeName,
      type: jdbcType(type.typname, type.category),
      nullable: column ? (column.notNull ? 0 : 1) : 2,
      isAutoIncrement: autoIncrement,
      isCaseSensitive: !NOT_CASE_SENSITIVE.has(type.typname),
      isCurrency: type.typname === 'money',
      isSigned: SIGNED.has(type.typname),
      precision,
      scale,
      schemaName: '',
      tableName: '',
      arrayBaseColumnType: elem ? jdbcType(elem.typname, elem.category) : 0,
    };
  }
}

function precisionAndScale(typname: string, typmod: number): { precision: number; scale: number } {
  const unbounded = 2147483647;
  switch (typname) {
    case 'bool':
      return { precision: 1, scale: 0 };
    case 'int2':
      return { precision: 5, scale: 0 };
    case 'int4':
    case 'oid':
      return { precision: 10, scale: 0 };
    case 'int8':
      return { precision: 19, scale: 0 };
    case 'float4':
      return { precision: 8, scale: 8 };
    case 'float8':
      return { precision: 17, scale: 17 };
    case 'numeric':
      return typmod >= 4
        ? { precision: ((typmod - 4) >> 16) & 0xffff, scale: (typmod - 4) & 0xffff }
        : { precision: 0, scale: 0 };
    case 'varchar':
    case 'bpchar':
      return { precision: typmod >= 4 ? typmod - 4 : unbounded, scale: 0 };
    case 'date':
      return { precision: 13, scale: 0 };
    case 'time':
      return { precision: 15, scale: 6 };
    case 'timetz':
      return { precision: 21, scale: 6 };
    case 'timestamp':
      return { precision: 29, scale: 6 };
    case 'timestamptz':
      return { precision: 35, scale: 6 };
    case 'uuid':
      return { precision: 36, scale: 0 };
    default:
      return { precision: unbounded, scale: 0 };
  }
}

// ---------------------------------------------------------------------------------------------
// Values

/** timestamptz text in a UTC session ends in +00; the Data API drops the zone ("always UTC"). */
function withoutUtcOffset(text: string): string {
  return text.replace(/([+-]00)(:00)?$/, '');
}

/** timetz text converted to UTC and printed without a zone, as the Data API returns it. */
function timetzToUtc(text: string): string {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$/.exec(text);
  if (!m) {
    return text;
  }
  const sign = m[5] === '-' ? -1 : 1;
  const offset = sign * (Number(m[6]) * 3600 + Number(m[7] ?? 0) * 60 + Number(m[8] ?? 0));
  const local = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  const utc = (((local - offset) % 86400) + 86400) % 86400;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(utc / 3600))}:${pad(Math.floor((utc % 3600) / 60))}:${pad(utc % 60)}${m[4] ?? ''}`;
}

function byteaToBase64(text: string): string {
  if (text.startsWith('\\x')) {
    return Buffer.from(text.slice(2), 'hex').toString('base64');
  }
  // escape format (bytea_output = escape): octal escapes and doubled backslashes
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else if (text[i] === '\\') {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(text.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString('base64');
}

/** Parses a one-dimensional PostgreSQL array literal; refuses nested (multi-dimensional) ones. */
function parseArrayLiteral(text: string): Array<string | null> {
  let body = text;
  if (body.startsWith('[')) {
    body = body.slice(body.indexOf('=') + 1); // explicit bounds: [0:2]={...}
  }
  if (!body.startsWith('{') || !body.endsWith('}')) {
    throw unsupported();
  }
  const items: Array<string | null> = [];
  let i = 1;
  const end = body.length - 1;
  while (i < end) {
    if (body[i] === '{') {
      throw unsupported();
    }
    if (body[i] === '"') {
      let value = '';
      i++;
      while (i < end && body[i] !== '"') {
        if (body[i] === '\\') {
          i++;
        }
        value += body[i] ?? '';
        i++;
      }
      items.push(value);
      i++; // closing quote
    } else {
      let j = i;
      while (j < end && body[j] !== ',') {
        j++;
      }
      const raw = body.slice(i, j).trim();
      items.push(raw === 'NULL' ? null : raw);
      i = j;
    }
    if (body[i] === ',') {
      i++;
    }
  }
  return items;
}

function unsupported(): DataApiError {
  return new DataApiError(
    'UnsupportedResultException',
    'The result contains an unsupported data type: multidimensional arrays are not supported. Cast the column to TEXT.',
  );
}

export class ValueConverter {
  constructor(
    private readonly catalog: Catalog,
    private readonly options: ResultSetOptions = {},
  ) {}

  field(text: string | null, oid: number): Field {
    if (text === null) {
      return { isNull: true };
    }
    const type = this.catalog.type(oid);
    const name = type.typname;
    if (name === 'bool') {
      return { booleanValue: text === 't' };
    }
    if (LONG_TYPES.has(name)) {
      return this.options.longReturnType === 'STRING' ? { stringValue: text } : { longValue: Number(text) };
    }
    if (DOUBLE_TYPES.has(name)) {
      return { doubleValue: Number(text) };
    }
    if (name === 'numeric' && this.options.decimalReturnType === 'DOUBLE_OR_LONG') {
      return /^-?\d+$/.test(text) ? { longValue: Number(text) } : { doubleValue: Number(text) };
    }
    if (name === 'bytea') {
      return { blobValue: byteaToBase64(text) };
    }
    if (name === 'timestamptz') {
      return { stringValue: withoutUtcOffset(text) };
    }
    if (name === 'timetz') {
      return { stringValue: timetzToUtc(text) };
    }
    if (type.category === 'A') {
      return { arrayValue: this.array(text, type.elem) };
    }
    // text, varchar, uuid, json, jsonb, numeric, date, time, timestamp, interval, vector, enums, ...
    return { stringValue: text };
  }

  private array(text: string, elemOid: number): ArrayValue {
    const items = parseArrayLiteral(text);
    const elem = this.catalog.type(elemOid).typname;
    // A NULL element has no place in the typed lists; the service cannot return one either.
    if (items.some((item) => item === null)) {
      throw unsupported();
    }
    const values = items as string[];
    if (elem === 'bool') {
      return { booleanValues: values.map((v) => v === 't') };
    }
    if (LONG_TYPES.has(elem)) {
      return { longValues: values.map(Number) };
    }
    if (DOUBLE_TYPES.has(elem)) {
      return { doubleValues: values.map(Number) };
    }
    if (elem === 'timestamptz') {
      return { stringValues: values.map(withoutUtcOffset) };
    }
    return { stringValues: values };
  }

  /** A value as the JSON format (formatRecordsAs: JSON) writes it. */
  json(text: string | null, oid: number): unknown {
    const field = this.field(text, oid);
    if ('isNull' in field) {
      return null;
    }
    if ('booleanValue' in field) {
      return field.booleanValue;
    }
    if ('longValue' in field) {
      return field.longValue;
    }
    if ('doubleValue' in field) {
      return field.doubleValue;
    }
    if ('stringValue' in field) {
      return field.stringValue;
    }
    if ('blobValue' in field) {
      return field.blobValue;
    }
    return Object.values(field.arrayValue)[0] as unknown;
  }
}

export interface ExecuteResponse {
  columnMetadata?: ColumnMetadata[];
  records?: Field[][];
  formattedRecords?: string;
  numberOfRecordsUpdated: number;
  generatedFields?: Field[];
}

/** Commands whose tag count is a number of modified rows. */
const DML = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY']);

export function toExecuteResponse(
  result: RawResult,
  catalog: Catalog,
  options: { includeResultMetadata?: boolean; formatRecordsAs?: string; resultSetOptions?: ResultSetOptions },
): ExecuteResponse {
  if (result.fields === null) {
    // No result set (INSERT/UPDATE/DELETE without RETURNING, DDL): the count, and generatedFields,
    // which Aurora PostgreSQL leaves empty (RETURNING is the way to read generated values).
    return { numberOfRecordsUpdated: DML.has(result.command) ? result.rowCount : 0, generatedFields: [] };
  }
  const fields = result.fields;
  const converter = new ValueConverter(catalog, options.resultSetOptions);
  if (options.formatRecordsAs === 'JSON') {
    const objects = result.rows.map((row) =>
      Object.fromEntries(fields.map((f, i) => [f.name, converter.json(row[i] ?? null, f.dataTypeID)])),
    );
    return { formattedRecords: JSON.stringify(objects), numberOfRecordsUpdated: 0 };
  }
  const records = result.rows.map((row) => fields.map((f, i) => converter.field(row[i] ?? null, f.dataTypeID)));
  return {
    ...(options.includeResultMetadata ? { columnMetadata: fields.map((f) => catalog.metadata(f)) } : {}),
    records,
    numberOfRecordsUpdated: 0,
  };
}
