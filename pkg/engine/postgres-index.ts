/** livehub/postgres: the PostgreSQL engine (pg). `new Hub({ engine: new PostgresEngine({ connectionString }) })`. */
export { PostgresEngine, type PostgresEngineOptions } from './postgres.js';
export { MIGRATIONS, type Migration } from './postgres-sql.js';
export { EngineUnavailableError } from './redis-health.js';
export { publishInTransaction, type QueryClient, type TransactionPublishOptions } from './postgres-transaction.js';
export type { Page, PageOptions } from './postgres-page.js';
