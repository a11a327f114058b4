; Every plain name with its role, and the structure around names: what `syntax.unknown_names` reads to find
; the names a suggestion uses that nothing defines, and the names a module binds at its top level.
; (names.scm is the smaller set `syntax.names` reads around the cursor.)
;
; Name patterns (matched around single occurrences, so they stay small): @binding (bound in its scope),
; @binding.global (declared global), @reference and @reference.call (a plain name used, called) and @ignore
; (an identifier that is not a plain name: a member, a keyword, a module path).
; Structure patterns: @binding.member in a @scope.class (bound in a class body: seen there, not in the
; functions it holds); @import with @import.module, @import.name (the imported name), @import.alias and
; @import.star; @attribute with @attribute.object and @attribute.name; @scope.function / @scope.class with
; @scope.name and @scope.body; @dynamic (code that makes a module's names at run time).

; --- bindings -----------------------------------------------------------------------------------------------

(assignment left: (identifier) @binding)
(pattern_list (identifier) @binding)
(tuple_pattern (identifier) @binding)
(list_pattern (identifier) @binding)
(list_splat_pattern (identifier) @binding)
(dictionary_splat_pattern (identifier) @binding)
(for_statement left: (identifier) @binding)
(for_in_clause left: (identifier) @binding)
(named_expression name: (identifier) @binding)
(as_pattern_target (identifier) @binding)
(as_pattern_target (tuple (identifier) @binding))
(as_pattern_target (list (identifier) @binding))
(function_definition name: (identifier) @binding)
(class_definition name: (identifier) @binding)
(parameters (identifier) @binding)
(lambda_parameters (identifier) @binding)
(default_parameter name: (identifier) @binding)
(typed_parameter (identifier) @binding)
(typed_default_parameter name: (identifier) @binding)
(global_statement (identifier) @binding.global)
(nonlocal_statement (identifier) @binding)
; type parameters (`def f[T]`, `class C[T]`, `type A[T] = ...`; `list[T]` in a type is a use)
(function_definition type_parameters: (type_parameter (type (identifier) @binding)))
(function_definition type_parameters: (type_parameter (type (constrained_type . (type (identifier) @binding)))))
(function_definition type_parameters: (type_parameter (type (splat_type (identifier) @binding))))
(class_definition type_parameters: (type_parameter (type (identifier) @binding)))
(class_definition type_parameters: (type_parameter (type (constrained_type . (type (identifier) @binding)))))
(class_definition type_parameters: (type_parameter (type (splat_type (identifier) @binding))))
(type_alias_statement left: (type (identifier) @binding))
(type_alias_statement left: (type (generic_type (identifier) @binding)))
(type_alias_statement left: (type (generic_type (type_parameter (type (identifier) @binding)))))
; match/case: a lone name captures, so do `*rest` and `**rest`; `case x as y` binds y.
(case_pattern (dotted_name . (identifier) @binding .))
(splat_pattern (identifier) @binding)
(as_pattern (case_pattern) (identifier) @binding)
; imports bind their first name (`import a.b`), the alias, or the imported name
(import_statement name: (dotted_name . (identifier) @binding))
(aliased_import alias: (identifier) @binding)
(import_from_statement name: (dotted_name (identifier) @binding))
(future_import_statement name: (dotted_name (identifier) @binding))

; --- not plain names ----------------------------------------------------------------------------------------

(attribute attribute: (identifier) @ignore)
(keyword_argument name: (identifier) @ignore)
(keyword_pattern . (identifier) @ignore)
(dotted_name (identifier) . (identifier) @ignore)
(import_from_statement module_name: (dotted_name (identifier) @ignore))
; `from .sub import x` in a package's __init__ binds `sub` there too
(relative_import (dotted_name . (identifier) @binding))
(aliased_import name: (dotted_name (identifier) @ignore))
(ERROR (identifier) @ignore)

; --- uses ---------------------------------------------------------------------------------------------------

(call function: (identifier) @reference.call)
(identifier) @reference

; --- class bodies -------------------------------------------------------------------------------------------

(class_definition
  body: (block [
    (function_definition name: (identifier) @binding.member)
    (decorated_definition definition: (function_definition name: (identifier) @binding.member))
    (class_definition name: (identifier) @binding.member)
    (decorated_definition definition: (class_definition name: (identifier) @binding.member))
    (expression_statement (assignment left: (identifier) @binding.member))
  ])) @scope.class

; --- imports ------------------------------------------------------------------------------------------------

(import_statement name: (dotted_name) @import.module) @import
(import_statement
  name: (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.alias)) @import
(import_from_statement
  module_name: (_) @import.module
  name: (dotted_name (identifier) @import.name)) @import
(import_from_statement
  module_name: (_) @import.module
  name: (aliased_import name: (dotted_name (identifier) @import.name) alias: (identifier) @import.alias)) @import
(import_from_statement module_name: (_) @import.module (wildcard_import) @import.star) @import

; --- attribute chains (`os.path.join`: an object and its member) -------------------------------------------

(attribute object: (_) @attribute.object attribute: (identifier) @attribute.name) @attribute

; --- scopes -------------------------------------------------------------------------------------------------

(function_definition name: (identifier) @scope.name body: (_) @scope.body) @scope.function
(lambda body: (_) @scope.body) @scope.function
(class_definition name: (identifier) @scope.name body: (_) @scope.body) @scope.class

; --- code that expects a name to be missing -----------------------------------------------------------------

; a `try` whose handler catches the failure (@guard.handler: syntax.unknown_names reads which), and that
; handler's own fallback; an `if` (or `elif`) on the version, the platform or TYPE_CHECKING (stub-only
; names), its condition included
(try_statement body: (block) @guard.body (except_clause) @guard.handler)
(except_clause) @guard.handler @guard.body
(if_statement condition: (_) @guard.condition) @guard.body
(elif_clause condition: (_) @guard.condition) @guard.body

; --- names made at run time ---------------------------------------------------------------------------------

; a module `__getattr__`, writes to `globals()` (or to a name bound to it: @dynamic.alias, @dynamic.write),
; `exec`, `sys.modules[__name__] = ...`, members an enum converts into module names
(function_definition name: (identifier) @dynamic (#eq? @dynamic "__getattr__"))
(call
  function: (attribute object: (call function: (identifier) @dynamic) attribute: (identifier) @_method)
  (#eq? @dynamic "globals")
  (#any-of? @_method "update" "setdefault" "__setitem__"))
(assignment left: (subscript value: (call function: (identifier) @dynamic)) (#eq? @dynamic "globals"))
(assignment left: (identifier) @dynamic.alias right: (call function: (identifier) @_globals) (#eq? @_globals "globals"))
(assignment left: (subscript value: (identifier) @dynamic.write))
; `exec(code)` runs in the caller's globals, so does `exec(code, globals())`; with a namespace of its own it
; makes no names here
(call function: (identifier) @dynamic arguments: (argument_list . (_) .) (#eq? @dynamic "exec"))
(call
  function: (identifier) @dynamic
  arguments: (argument_list . (_) . (call function: (identifier) @_globals))
  (#eq? @dynamic "exec")
  (#eq? @_globals "globals"))
(call function: (attribute attribute: (identifier) @dynamic) (#eq? @dynamic "_convert_"))
; an import hook makes a package's submodules at run time, `sys.modules[__name__] = ...` replaces the module
; (@dynamic.module: no name of the file itself)
(assignment
  left: (subscript value: (attribute attribute: (identifier) @dynamic.module) subscript: (identifier) @_key)
  (#eq? @dynamic.module "modules")
  (#eq? @_key "__name__"))
(call
  function: (attribute object: (attribute attribute: (identifier) @dynamic.module) attribute: (identifier) @_method)
  (#eq? @dynamic.module "meta_path")
  (#any-of? @_method "append" "insert" "extend"))
; `@enum.global_enum class Flag: A = 1` makes `A` a name of the module
(decorated_definition
  (decorator [(identifier) (attribute attribute: (identifier))] @_decorator)
  definition: (class_definition
    body: (block (expression_statement (assignment left: (identifier) @binding.exported))))
  (#match? @_decorator "global_enum$"))
(decorated_definition
  (decorator [(identifier) (attribute attribute: (identifier))] @_decorator)
  definition: (class_definition
    body: (block (expression_statement (assignment right: (assignment left: (identifier) @binding.exported)))))
  (#match? @_decorator "global_enum$"))
