// The local RDS Data API endpoint (`@marvain/data-api`): the test database's data-api mode, the
// Data API bench and this project's own specs start it through here.
export * from './server';
