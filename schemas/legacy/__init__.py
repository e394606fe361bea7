"""The admin panel's request and response shapes (mibo.api.legacy): its field names and casing,
which mix camelCase and snake_case as the panel does; every other rule of schemas.base holds."""
